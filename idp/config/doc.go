// Package config reads the configuration file of `idp serve --config FILE`.
//
// The file is YAML, decoded strictly: unknown keys, duplicate keys, values of
// the wrong type, bad values, unreadable secrets and inconsistent settings are
// all reported together, each with its line and column, before the server
// listens on anything (see Errors). Secrets are never written in the file: each
// is given by reference as "<name>_file: /path" or "<name>_env: VARIABLE", and
// the resolved value is stored in the Config. A commented example with every
// key lives in deploy/config/idp.yaml; a test keeps it valid.
//
// Only cmd/ imports this package; it builds the configuration of each other
// package from a Config, so those packages stay free of file formats.
package config
