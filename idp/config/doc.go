// Package config reads the configuration files of both binaries: the
// provider's (`idp serve --config FILE`, Load) and the password writer's
// (`ldapsync run --config FILE`, LoadLdapsync).
//
// The file is YAML, decoded strictly: unknown keys, duplicate keys, values of
// the wrong type, bad values, unreadable secrets and inconsistent settings are
// all reported together, each with its line and column, before the server
// listens on anything (see Errors). Secrets are never written in the file: each
// is given by reference as "<name>_file: /path" or "<name>_env: VARIABLE", and
// the resolved value is stored in the Config. A commented example with every
// key lives in deploy/config/idp.yaml and deploy/config/ldapsync.yaml;
// tests keep them valid.
//
// Only the composition roots (idp/app, ldapsync/app, cmd/) import this
// package, so the other packages stay free of file formats. It imports
// neither tier (only idp/shared), since both binaries link it.
package config
