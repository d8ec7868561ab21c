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
	b.WriteString(legalNotice + "\n")
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
	b.WriteString(legalNotice + "\n")
	return b.String()
}

// Every mail ends with the guide's signature and legal notice.
const (
	signature   = "Bonne continuation,"
	team        = "L’équipe technique de la Région Nouvelle-Aquitaine"
	legalNotice = "Conformément à la loi Informatique et Libertés du 06/01/1978, vous disposez d’un droit d’accès, de rectification et de suppression pour toutes les informations vous concernant. Vous pouvez exercer ce droit en écrivant par courrier au Conseil régional de Nouvelle-Aquitaine - 14 rue François de Sourdais - 33077 Bordeaux"
)
