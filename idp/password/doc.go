// Package password is the new-password policy: lengths in code points, no character-class
// rule, a blocklist of common passwords and French words, and context
// words. It only decides; the web tier words the refusal (views) and the
// directory stores the password.
//
//	bl := password.LoadBlocklist()        // once, at startup
//	pol := password.DefaultPolicy(bl)     // or StrictPolicy: 15 minimum
//	err := pol.Check(pw, uid, mailLocalPart)
//	var rej *password.Rejection
//	if errors.As(err, &rej) { … rej.Reason, rej.Min, rej.Max, rej.Context … }
//
// Why these rules: length beats complexity. Twelve
// characters reach the CNIL's 50 bits with throttling (26¹² ≈ 2⁵⁶) and
// ANSSI's medium-strong band; NIST and OWASP forbid class rules and ask
// for a blocklist with the reason of a refusal; the blocklist and the
// context words remove what a length rule lets through ("azertyuiop12",
// "NouvelleAquitaine", "jdupont2024!").
//
// The password is never normalised. NFKC before hashing is acceptable
// only if login does the same; the directory hashes what it is
// given and login binds with what is typed, so normalising here alone
// would lock people out. Normalisation (NFKD, no accents, lower case) is
// used only to compare with the blocklist and the context words.
package password
