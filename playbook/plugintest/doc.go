// Package plugintest tests abusekit plugin actions, the way net/http/httptest
// tests handlers.
//
// Plan and Apply run an action in the test process without RPC: the input
// still goes through JSON and errors come back in the form a host sees, so
// what passes here behaves the same behind a plugin process. An Invocation
// can give Apply an approved plan and notes of earlier attempts, and
// Applied returns the notes the action kept (plugin Progress.Note). Serve runs a
// whole plugin in the test process over the real transport (go-plugin gRPC,
// reattached) and returns the playbook.PluginSpec to run playbooks against
// it.
package plugintest
