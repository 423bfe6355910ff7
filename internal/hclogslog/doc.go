// Package hclogslog bridges log/slog and hashicorp/go-hclog for the plugin
// transport.
//
// A plugin process logs through slog; NewHandler writes its records to stderr
// as hclog JSON lines (@message, @level, @timestamp in the layout go-plugin
// parses), so the host's go-plugin client recognises each line's level and
// attributes instead of logging every line at Debug. On the host, FromSlog
// turns the caller's *slog.Logger into the hclog.Logger go-plugin wants, so
// plugin log lines land in the host's slog with their own level, message and
// attributes plus the plugin's name.
package hclogslog
