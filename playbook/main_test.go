package playbook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	pb "github.com/abusekit/abusekit/internal/pluginproto"
	"github.com/abusekit/abusekit/playbook"
	"github.com/abusekit/abusekit/playbook/internal/wire"
	"github.com/abusekit/abusekit/playbook/plugin"
)

// errBoom is a sentinel of this test package, registered like a real
// package's sentinels so its identity crosses the process boundary.
var errBoom = errors.New("playbooktest: boom")

func init() { plugin.RegisterError("playbooktest.boom", errBoom) }

// Test plugin actions. The test binary itself is the plugin executable:
// TestMain serves them when a host re-executes it as a built-in plugin.

type greetIn struct {
	Name string `json:"name"`
}

type greetOut struct {
	Message string `json:"message"`
	PID     int    `json:"pid"`
	PPID    int    `json:"ppid"`
}

type greeter struct{}

func (greeter) Description() string { return "says hello" }

func (greeter) Version() string { return "2" }

func (greeter) Plan(_ context.Context, req plugin.PlanRequest[greetIn], resp *plugin.PlanResponse) error {
	resp.Summary = "greet " + req.Input.Name
	resp.Changes = []plugin.Change{{Kind: plugin.ChangeCreate, Target: "greeting:" + req.Input.Name}}
	return nil
}

func (greeter) Apply(_ context.Context, req plugin.ApplyRequest[greetIn], resp *plugin.ApplyResponse[greetOut]) error {
	req.Logger.Info("greeting", "name", req.Input.Name)
	fmt.Println("[INFO] stray print from", req.Input.Name)
	resp.Output = greetOut{Message: "hello, " + req.Input.Name, PID: os.Getpid(), PPID: os.Getppid()}
	return nil
}

type failIn struct {
	Why string `json:"why"`
}

type ledgerIn struct {
	Ledger string `json:"ledger"`
	Note   string `json:"note,omitempty"`
	// Block, if set, makes the action write "<ledger>.blocked", then wait
	// until the file Block exists.
	Block string `json:"block,omitempty"`
	// FailUntil makes attempts before this one fail with errBoom.
	FailUntil int `json:"fail_until,omitempty"`
}

type itemsIn struct {
	State  string `json:"state"`
	Ledger string `json:"ledger"`
}

type itemsOut struct {
	Applied []string `json:"applied"`
}

func readItems(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

func planItems(_ context.Context, req plugin.PlanRequest[itemsIn], resp *plugin.PlanResponse) error {
	items, err := readItems(req.Input.State)
	if err != nil {
		return err
	}
	for _, it := range items {
		resp.Changes = append(resp.Changes, plugin.Change{Kind: plugin.ChangeUpdate, Target: it})
	}
	resp.Summary = fmt.Sprintf("update %d items", len(items))
	resp.Payload = items
	return nil
}

func applyItems(_ context.Context, req plugin.ApplyRequest[itemsIn], resp *plugin.ApplyResponse[itemsOut]) error {
	items, err := readItems(req.Input.State)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := appendLine(req.Input.Ledger, it); err != nil {
			return err
		}
	}
	resp.Output.Applied = items
	return nil
}

type notedIn struct {
	State      string `json:"state"`
	Journal    string `json:"journal,omitempty"`
	CrashFirst bool   `json:"crash_first,omitempty"`
}

type notedOut struct {
	Original string `json:"original"`
	Restored bool   `json:"restored,omitempty"`
}

type postIn struct {
	URL     string   `json:"url" schema:"required,format=uri" description:"where to post"`
	Method  string   `json:"method,omitempty" schema:"enum=POST|PUT,default=POST" description:"HTTP method"`
	Token   string   `json:"token,omitempty" schema:"secret" description:"bearer token"`
	Retries int      `json:"retries,omitempty" schema:"default=3"`
	Tags    []string `json:"tags,omitempty"`
}

type cleanupIn struct {
	Dir string `json:"dir"`
}

type ledgerOut struct {
	Line string `json:"line"`
}

type empty struct{}

type envOut struct {
	Env []string `json:"env"`
}

type suspectsOut struct {
	Suspects []map[string]any `json:"suspects"`
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		return err
	}
	return f.Sync()
}

var utilActions = plugin.Actions{
	"greet": plugin.Typed[greetIn, greetOut](greeter{}),
	"fail": plugin.NewAction("fails with errBoom", nil,
		func(_ context.Context, req plugin.ApplyRequest[failIn], _ *plugin.ApplyResponse[empty]) error {
			return fmt.Errorf("failing on purpose (%s): %w", req.Input.Why, errBoom)
		}),
	"failplan": plugin.NewAction("plan fails with errBoom",
		func(context.Context, plugin.PlanRequest[empty], *plugin.PlanResponse) error {
			return fmt.Errorf("cannot plan: %w", errBoom)
		},
		func(context.Context, plugin.ApplyRequest[empty], *plugin.ApplyResponse[empty]) error { return nil }),
	"panic": plugin.NewAction("panics", nil,
		func(context.Context, plugin.ApplyRequest[empty], *plugin.ApplyResponse[empty]) error {
			panic("on purpose")
		}),
	"progress": plugin.NewAction("reports progress", nil,
		func(_ context.Context, req plugin.ApplyRequest[empty], _ *plugin.ApplyResponse[empty]) error {
			for i := range 3 {
				req.Progress.Report(fmt.Sprintf("part %d", i+1), int64(i+1), 3)
			}
			return nil
		}),
	"sleep": plugin.NewAction("sleeps until cancelled", nil,
		func(ctx context.Context, _ plugin.ApplyRequest[empty], _ *plugin.ApplyResponse[empty]) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Minute):
				return errors.New("not cancelled within a minute")
			}
		}),
	"big": plugin.NewAction("returns a large output", nil,
		func(_ context.Context, req plugin.ApplyRequest[struct {
			Bytes int `json:"bytes"`
		}], resp *plugin.ApplyResponse[string]) error {
			resp.Output = strings.Repeat("x", req.Input.Bytes)
			return nil
		}),
	"crash-once": plugin.NewAction("kills its own process on the first attempt", nil,
		func(_ context.Context, req plugin.ApplyRequest[empty], resp *plugin.ApplyResponse[greetOut]) error {
			if req.Attempt == 1 {
				os.Exit(7)
			}
			resp.Output.PID = os.Getpid()
			return nil
		}),
	"env": plugin.NewAction("returns the environment", nil,
		func(_ context.Context, _ plugin.ApplyRequest[empty], resp *plugin.ApplyResponse[envOut]) error {
			resp.Output.Env = os.Environ()
			return nil
		}),
	"suspects": plugin.NewAction("returns fixed suspects", nil,
		func(_ context.Context, _ plugin.ApplyRequest[empty], resp *plugin.ApplyResponse[suspectsOut]) error {
			resp.Output.Suspects = []map[string]any{{"pid": 4242, "exe": "/tmp/.x/work32"}}
			return nil
		}),
	"cleanup": plugin.NewAction("waits to be stopped, then undoes its change in several logged steps", nil,
		func(ctx context.Context, req plugin.ApplyRequest[cleanupIn], _ *plugin.ApplyResponse[empty]) error {
			log := filepath.Join(req.Input.Dir, "cleanup")
			if err := appendLine(log, "changed"); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(req.Input.Dir, "started"), []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Minute):
				return errors.New("not stopped within a minute")
			}
			// The cleanup that must always finish: several steps, each
			// logged to the host (whose pipe may be gone by now), 3.2 s in
			// all, longer than go-plugin's own 2 s wait for a plugin to exit.
			for i := range 8 {
				time.Sleep(400 * time.Millisecond)
				req.Logger.Info("undoing", "part", i+1)
				if err := appendLine(log, fmt.Sprintf("undo %d", i+1)); err != nil {
					return err
				}
			}
			if err := appendLine(log, "complete"); err != nil {
				return err
			}
			return ctx.Err()
		}),
	// items plans one change per line of a state file and applies them;
	// the SDK refuses an Apply whose fresh plan differs from the approved.
	"items": plugin.NewAction("acts on the items listed in a state file", planItems, applyItems, plugin.RefuseChangedPlan()),
	// items-hook does the same check itself, through req.Approved.
	"items-hook": plugin.NewAction("acts on the items listed in a state file", planItems,
		func(ctx context.Context, req plugin.ApplyRequest[itemsIn], resp *plugin.ApplyResponse[itemsOut]) error {
			var fresh plugin.PlanResponse
			if err := planItems(ctx, plugin.PlanRequest[itemsIn]{Call: req.Call, Input: req.Input}, &fresh); err != nil {
				return err
			}
			if err := req.Approved.Check(fresh); err != nil {
				return err
			}
			var approved []string
			if err := req.Approved.DecodePayload(&approved); err != nil {
				return err
			}
			return applyItems(ctx, req, resp)
		}),
	// noted keeps the state file's content as a durable note, then changes
	// it (and may crash right after); an attempt that finds the note
	// restores the state from it instead.
	"noted": plugin.NewAction("notes the original state, then changes it", nil,
		func(ctx context.Context, req plugin.ApplyRequest[notedIn], resp *plugin.ApplyResponse[notedOut]) error {
			if raw, ok := req.Notes["original"]; ok {
				if err := json.Unmarshal(raw, &resp.Output.Original); err != nil {
					return err
				}
				resp.Output.Restored = true
				return os.WriteFile(req.Input.State, []byte(resp.Output.Original), 0o600)
			}
			b, err := os.ReadFile(req.Input.State)
			if err != nil {
				return err
			}
			if err := req.Progress.Note(ctx, "original", string(b)); err != nil {
				return err
			}
			if req.Input.Journal != "" {
				j, err := os.ReadFile(req.Input.Journal)
				if err != nil || !strings.Contains(string(j), `"type":"step_note"`) {
					return fmt.Errorf("the note is not in the journal before the change (%v)", err)
				}
			}
			if err := os.WriteFile(req.Input.State, []byte("quarantine"), 0o600); err != nil {
				return err
			}
			if req.Input.CrashFirst && req.Attempt == 1 {
				os.Exit(7)
			}
			resp.Output.Original = string(b)
			return nil
		}),
	"post": plugin.NewAction("posts a message (schema tags)", nil,
		func(_ context.Context, req plugin.ApplyRequest[postIn], resp *plugin.ApplyResponse[postIn]) error {
			resp.Output = req.Input
			if req.Input.Token != "" {
				resp.Output.Tags = append(resp.Output.Tags, fmt.Sprintf("token-len-%d", len(req.Input.Token)))
			}
			resp.Output.Token = ""
			return nil
		}),
	"ledger": plugin.NewAction("appends to a ledger file",
		func(_ context.Context, req plugin.PlanRequest[ledgerIn], resp *plugin.PlanResponse) error {
			resp.Summary = "append to " + req.Input.Ledger
			return nil
		},
		func(ctx context.Context, req plugin.ApplyRequest[ledgerIn], resp *plugin.ApplyResponse[ledgerOut]) error {
			line := fmt.Sprintf("%s token=%s attempt=%d pid=%d note=%s", req.Step, req.IdempotencyToken, req.Attempt, os.Getpid(), req.Input.Note)
			if req.Attempt < req.Input.FailUntil {
				return fmt.Errorf("attempt %d: %w", req.Attempt, errBoom)
			}
			if err := appendLine(req.Input.Ledger, line); err != nil {
				return err
			}
			if req.Input.Block != "" {
				if err := os.WriteFile(req.Input.Ledger+".blocked", []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
					return err
				}
				for {
					if _, err := os.Stat(req.Input.Block); err == nil {
						break
					}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
			resp.Output.Line = line
			return nil
		}),
}

var builtins = map[string]plugin.Actions{
	"util":  utilActions,
	"util2": utilActions,
	"p1":    utilActions, "p2": utilActions, "p3": utilActions, "p4": utilActions, "p5": utilActions,
}

// Modes of the test binary besides being a test.
const envMode = "PLAYBOOK_TEST_MODE"

func TestMain(m *testing.M) {
	switch os.Getenv(envMode) {
	case "wrong-cookie":
		// A go-plugin plugin of some other program: its handshake cookie is
		// not ours, so it refuses to serve the abusekit host.
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: goplugin.HandshakeConfig{ProtocolVersion: 1,
				MagicCookieKey: "OTHER_PLUGIN_COOKIE", MagicCookieValue: "other"},
			VersionedPlugins: wire.Versioned(1, pb.UnimplementedPluginServer{}),
			GRPCServer:       goplugin.DefaultGRPCServer,
		})
		os.Exit(0)
	case "not-a-plugin":
		fmt.Println("hello, I am not a plugin")
		os.Exit(0)
	case "bad-log":
		// A compromised plugin writing log lines crafted to crash a host
		// that trusts their shape, then serving normally.
		fmt.Fprintln(os.Stderr, `{"@message":1,"@level":["x"],"@timestamp":{}}`)
		fmt.Fprintln(os.Stderr, `{"@message":{"a":1},"@level":"error"}`)
	case "runner":
		os.Exit(runnerMain())
	case "signal-runner":
		os.Exit(signalRunnerMain())
	case "versioned":
		plugin.Serve(utilActions, plugin.WithInfo(plugin.Info{Version: "v1.4.2", Description: "test utilities"}))
	}
	plugin.ServeIfPlugin(builtins)
	code := m.Run()
	if greeterBin.path != "" {
		os.RemoveAll(filepath.Dir(greeterBin.path))
	}
	os.Exit(code)
}

// selfExe returns the test binary and its SHA-256.
func selfExe(t testing.TB) (string, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := playbook.FileSHA256(exe)
	if err != nil {
		t.Fatal(err)
	}
	return exe, sum
}

func procGone(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
	if err != nil {
		return true
	}
	// A zombie waiting for a reaper that does not reap is gone too.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !procGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running %v later", pid, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
