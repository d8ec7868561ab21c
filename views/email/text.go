package email

import "strings"

// ResetCodeText is the plain-text part of the ResetCode mail: the same
// sentences as ResetCodeHTML, the link written out after « cliquer ici »
// and the code alone on its line.
func ResetCodeText(p ResetCode) string {
	var b strings.Builder
	para := func(lines ...string) {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	para("Ce message a été généré automatiquement - merci de ne pas y répondre.")
	para("Votre demande de réinitialisation de mot de passe a bien été prise en compte.")
	para("Pour réinitialiser votre mot de passe, merci de cliquer ici\u00a0:", p.Link)
	para("Si pour une raison quelconque ce lien ne fonctionne pas, vous pouvez copier et coller le code suivant dans le formulaire de réinitialisation de mot de passe\u00a0:")
	para(p.Code)
	para("Ce code et ce lien sont valables " + validity(p.Validity) + ".")
	para("Si vous n’êtes pas l’initiateur de cette réinitialisation, merci de ne pas prendre en compte ce message.")
	para(signature, team)
	notice(&b, resetCodeReason, true, p.PrivacyURL)
	return b.String()
}

// PasswordChangedText is the plain-text part of the PasswordChanged mail:
// the same sentences as PasswordChangedHTML, each link written out on its
// own line after the sentence that gives its purpose.
func PasswordChangedText(p PasswordChanged, when string) string {
	var b strings.Builder
	para := func(lines ...string) {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	para("Ce message a été généré automatiquement - merci de ne pas y répondre.")
	para("Le mot de passe de votre compte a été modifié " + when + " (heure de Paris).")
	para("Par sécurité, toutes vos connexions en cours ont été fermées\u00a0: reconnectez-vous avec votre nouveau mot de passe.")
	para("Si vous êtes à l’origine de ce changement, vous n’avez rien d’autre à faire.")
	para("Si vous n’êtes pas à l’origine de ce changement, quelqu’un connaît peut-être votre mot de passe ou a accès à votre messagerie\u00a0:")
	para("- choisissez sans attendre un nouveau mot de passe en demandant un nouveau code de sécurité\u00a0:", p.ResetURL)
	para("- prévenez le support en passant par la page J’ai besoin de support\u00a0:", p.SupportURL)
	para(signature, team)
	notice(&b, passwordChangedReason, false, p.PrivacyURL)
	return b.String()
}

// notice writes the legal notice as plain text, the page's address on a
// line of its own.
func notice(b *strings.Builder, reason string, ignorable bool, privacy string) {
	b.WriteString(reason + "\n")
	if ignorable {
		b.WriteString(ignoreIt + "\n")
	}
	b.WriteString(noReply + "\n")
	b.WriteString(dataUse + "\n")
	b.WriteString(dataRights + "\u00a0:\n" + privacy + "\n")
	b.WriteString(postal + "\n")
}

// Every mail ends with the signature, then a legal notice: why
// the person gets the mail, that a reset they did not ask for can be
// ignored, that nobody reads replies, what the address is used for and
// where their rights are explained.
const (
	signature             = "Bonne continuation,"
	team                  = "L’équipe technique de la Région Nouvelle-Aquitaine"
	resetCodeReason       = "Vous recevez ce courriel parce qu’une réinitialisation de mot de passe a été demandée pour le compte «\u00a0Mes démarches en Nouvelle-Aquitaine\u00a0» associé à cette adresse électronique."
	passwordChangedReason = "Vous recevez ce courriel parce que le mot de passe du compte «\u00a0Mes démarches en Nouvelle-Aquitaine\u00a0» associé à cette adresse électronique a été modifié."
	ignoreIt              = "Si vous n’avez rien demandé, vous pouvez ignorer ce message\u00a0: votre mot de passe reste inchangé."
	noReply               = "Ce courriel est envoyé par une adresse qui ne reçoit pas les réponses."
	dataUse               = "La Région Nouvelle-Aquitaine utilise votre adresse électronique uniquement pour vous informer sur la sécurité de votre compte, conformément au règlement général sur la protection des données (RGPD) et à la loi Informatique et Libertés."
	dataRights            = "Vos droits (accès, rectification, effacement, limitation, opposition) et la façon de les exercer sont expliqués sur la page «\u00a0Données personnelles\u00a0»"
	postal                = "Région Nouvelle-Aquitaine – 14 rue François de Sourdis – 33077 Bordeaux"
)
