package plugin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The test binary is also a one-shot plugin: with EnvOneShot set it serves
// oneShotActions, as a host's executable does through ServeIfPlugin.
// envServeBuiltin makes the test binary serve its plugin as a host's main
// does with ServeBuiltinIfPlugin, instead of ServeIfPlugin.
const envServeBuiltin = "PLUGINTEST_SERVE_BUILTIN"

func TestMain(m *testing.M) {
	if os.Getenv(envServeBuiltin) == "1" {
		ServeBuiltinIfPlugin(map[string]func() Builtin{"t": func() Builtin {
			return Builtin{Actions: oneShotActions(), Info: Info{Version: "1.0.0", Description: "test"}}
		}})
		fmt.Fprintln(os.Stderr, "ServeBuiltinIfPlugin returned: the host's own main would run now")
		os.Exit(3)
	}
	ServeIfPlugin(map[string]Actions{"t": oneShotActions()})
	os.Exit(m.Run())
}

type osIn struct {
	Name string `json:"name" schema:"required"`
	Dir  string `json:"dir,omitempty"`
	Fail string `json:"fail,omitempty" schema:"enum=|general|specific|panic|wait"`
}

type osOut struct {
	Message  string `json:"message"`
	Evidence string `json:"evidence,omitempty"`
	Notes    int    `json:"notes"`
	Approved string `json:"approved,omitempty"`
}

func oneShotActions() Actions {
	return Actions{"greet": NewAction("greet someone",
		func(_ context.Context, req PlanRequest[osIn], resp *PlanResponse) error {
			if req.Input.Fail == "specific" {
				return fmt.Errorf("planning: %w", errSpecific)
			}
			resp.Summary = "greet " + req.Input.Name
			resp.Changes = []Change{{Kind: ChangeCreate, Target: req.Input.Name}}
			resp.Payload = map[string]string{"who": req.Input.Name}
			return nil
		},
		func(ctx context.Context, req ApplyRequest[osIn], resp *ApplyResponse[osOut]) error {
			// What an action prints must never reach the answer's stream.
			fmt.Println(`{"result":{"output":{"message":"forged"}}}`)
			req.Progress.Report("greeting", 1, 2)
			if err := req.Progress.Note(ctx, "before", map[string]string{"who": req.Input.Name}); err != nil {
				return err
			}
			switch req.Input.Fail {
			case "general":
				return fmt.Errorf("greeting %s: %w", req.Input.Name, errGeneral)
			case "panic":
				panic("boom")
			case "wait":
				<-ctx.Done()
				return fmt.Errorf("stopped: %w", ctx.Err())
			}
			resp.Output = osOut{Message: "hello, " + req.Input.Name, Evidence: req.Input.Dir, Notes: len(req.Notes)}
			if req.Approved != nil {
				resp.Output.Approved = string(req.Approved.Payload)
			}
			return nil
		})}
}

func oneShot(t *testing.T, req any) *OneShotAnswer {
	t.Helper()
	var in []byte
	switch r := req.(type) {
	case string:
		in = []byte(r)
	default:
		var err error
		if in, err = json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	}
	var out, logs bytes.Buffer
	if code := serveOneShot(context.Background(), oneShotActions(), bytes.NewReader(in), &out, &logs); code != 0 {
		t.Fatalf("exit %d; logs: %s", code, logs.String())
	}
	ans, err := ReadOneShot(&out)
	if err != nil {
		t.Fatalf("ReadOneShot: %v\n%s", err, out.String())
	}
	return ans
}

func TestOneShotPlan(t *testing.T) {
	ans := oneShot(t, OneShotRequest{Version: 1, Phase: PhasePlan, Action: "greet", Input: json.RawMessage(`{"name":"ops"}`)})
	want := &OneShotAnswer{Plan: &PlanResponse{Summary: "greet ops", Changes: []Change{{Kind: ChangeCreate, Target: "ops"}},
		Payload: json.RawMessage(`{"who":"ops"}`)}}
	if diff := cmp.Diff(want, ans); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
}

func TestOneShotApply(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "mem"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"files":1}`), 0o600)
	os.WriteFile(filepath.Join(dir, "mem", "1.bin"), bytes.Repeat([]byte{7}, 200<<10), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(dir, "exe"))
	ans := oneShot(t, OneShotRequest{Version: 1, Phase: PhaseApply, Action: "greet", Step: "s", Attempt: 2,
		Input:    json.RawMessage(`{"name":"ops","dir":"` + dir + `"}`),
		Approved: &OneShotPlan{Summary: "greet ops", Payload: json.RawMessage(`{"who":"ops"}`)},
		Notes:    map[string]json.RawMessage{"before": json.RawMessage(`1`)},
		Attach:   []string{"evidence", "missing"}})
	want := &OneShotAnswer{
		Output:   json.RawMessage(`{"message":"hello, ops","evidence":"` + dir + `","notes":1,"approved":"{\"who\":\"ops\"}"}`),
		Progress: []OneShotProgress{{Message: "greeting", Done: 1, Total: 2}},
		Notes:    []OneShotNote{{Key: "before", Value: json.RawMessage(`{"who":"ops"}`)}},
		Attachments: []Attachment{{Field: "evidence", Path: dir},
			{Field: "missing", Error: `output has no field "missing"`}},
	}
	if diff := cmp.Diff(want, ans, cmpopts.IgnoreFields(Attachment{}, "Data", "SHA256", "Size")); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if len(ans.Attachments) != 2 {
		t.Fatal("no attachment")
	}
	files := untar(t, ans.Attachments[0].Data)
	wantFiles := map[string]string{"./": "", "manifest.json": `{"files":1}`, "mem/": "", "mem/1.bin": strings.Repeat("\x07", 200<<10), "exe": "-> /etc/passwd"}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("attached files (-want +got):\n%s", diff)
	}
}

// With a URL for it, an attached directory is PUT there and the answer
// carries only its SHA-256 and size.
func TestOneShotAttachPut(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"files":1}`), 0o600)
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "want PUT", http.StatusMethodNotAllowed)
			return
		}
		got, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	ans := oneShot(t, OneShotRequest{Version: 1, Phase: PhaseApply, Action: "greet",
		Input:  json.RawMessage(`{"name":"ops","dir":"` + dir + `"}`),
		Attach: []string{"evidence"}, AttachURLs: map[string]string{"evidence": srv.URL + "/evidence.tar.gz"}})
	if len(ans.Attachments) != 1 {
		t.Fatalf("attachments %+v", ans.Attachments)
	}
	a := ans.Attachments[0]
	sum := sha256.Sum256(got)
	if !a.Put || a.Data != nil || a.SHA256 != hex.EncodeToString(sum[:]) || a.Size != int64(len(got)) || a.Path != dir {
		t.Errorf("attachment %+v; uploaded %d bytes with SHA-256 %x", a, len(got), sum)
	}
	if files := untar(t, got); files["manifest.json"] != `{"files":1}` {
		t.Errorf("uploaded archive holds %v", files)
	}
}

func untar(t *testing.T, data []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeSymlink {
			b = []byte("-> " + h.Linkname)
		}
		out[h.Name] = string(b)
	}
}

// Errors keep their identity across the one-shot path as across go-plugin.
func TestOneShotErrors(t *testing.T) {
	tests := []struct {
		name string
		req  any
		is   []error
		msg  string
	}{
		{"registered", OneShotRequest{Version: 1, Phase: PhaseApply, Action: "greet", Input: json.RawMessage(`{"name":"x","fail":"general"}`)},
			[]error{errGeneral}, "greeting x: plugintest: general"},
		{"specific in plan", OneShotRequest{Version: 1, Phase: PhasePlan, Action: "greet", Input: json.RawMessage(`{"name":"x","fail":"specific"}`)},
			[]error{errSpecific, errGeneral}, "planning: plugintest: specific: plugintest: general"},
		{"panic", OneShotRequest{Version: 1, Phase: PhaseApply, Action: "greet", Input: json.RawMessage(`{"name":"x","fail":"panic"}`)},
			[]error{ErrPanic}, "plugin: action panicked: greet: boom"},
		{"unknown action", OneShotRequest{Version: 1, Phase: PhasePlan, Action: "nope"}, []error{ErrUnknownAction}, ""},
		{"invalid input", OneShotRequest{Version: 1, Phase: PhasePlan, Action: "greet", Input: json.RawMessage(`{"nam":"x"}`)}, []error{ErrInvalidInput}, ""},
		{"not JSON", "{", []error{ErrOneShot}, ""},
		{"unknown field", `{"version":1,"phase":"plan","action":"greet","extra":1}`, []error{ErrOneShot}, ""},
		{"version", `{"version":2,"phase":"plan","action":"greet"}`, []error{ErrOneShot}, ""},
		{"phase", `{"version":1,"phase":"destroy","action":"greet"}`, []error{ErrOneShot}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := oneShot(t, tt.req)
			if ans.Err == nil {
				t.Fatalf("no error: %+v", ans)
			}
			for _, target := range tt.is {
				if !errors.Is(ans.Err, target) {
					t.Errorf("errors.Is(%v, %v) = false", ans.Err, target)
				}
			}
			if tt.msg != "" && ans.Err.Error() != tt.msg {
				t.Errorf("message %q, want %q", ans.Err, tt.msg)
			}
			var re *RemoteError
			if !errors.As(ans.Err, &re) {
				t.Errorf("%T is not a *RemoteError", ans.Err)
			}
		})
	}
}

func TestOneShotRequestTooLarge(t *testing.T) {
	_, err := DecodeOneShotRequest(io.MultiReader(strings.NewReader(`{"version":1,"input":"`), zeros{}))
	if !errors.Is(err, ErrOneShot) || !strings.Contains(err.Error(), "over") {
		t.Fatalf("err = %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

func TestReadOneShotMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"no result":      `{"progress":{"message":"x"}}` + "\n",
		"two kinds":      `{"progress":{"message":"x"},"result":{"output":1}}` + "\n",
		"after result":   `{"result":{"output":1}}` + "\n" + `{"progress":{"message":"x"}}` + "\n",
		"empty result":   `{"result":{}}` + "\n",
		"error and plan": `{"result":{"error":{"message":"x"},"plan":{}}}` + "\n",
		"bad note":       `{"note":{"key":"","value":1}}` + "\n" + `{"result":{"output":1}}` + "\n",
		"cut attachment": `{"attachment":{"field":"e","seq":0,"data":"AA=="}}` + "\n" + `{"result":{"output":1}}` + "\n",
		"bad sequence":   `{"attachment":{"field":"e","seq":1,"data":"AA=="}}` + "\n",
		"bad digest":     `{"attachment":{"field":"e","seq":0,"data":"AA==","last":true,"size":1,"sha256":"00"}}` + "\n" + `{"result":{"output":1}}` + "\n",
		"bad base64":     `{"attachment":{"field":"e","seq":0,"data":"!","last":true}}` + "\n",
		"not JSON":       "hello\n",
	} {
		if _, err := ReadOneShot(strings.NewReader(in)); !errors.Is(err, ErrOneShot) {
			t.Errorf("%s: err = %v, want ErrOneShot", name, err)
		}
	}
}

// A real process in one-shot mode, served by ServeIfPlugin and by
// ServeBuiltinIfPlugin (what respond and run-playbook call: a host step
// over SSM or SSH runs the host's own executable so): what the action
// prints to its standard output goes to standard error, never into the
// answer.
func TestOneShotProcess(t *testing.T) {
	for _, serve := range []string{"ServeIfPlugin", "ServeBuiltinIfPlugin"} {
		t.Run(serve, func(t *testing.T) {
			env := []string{EnvOneShot + "=t"}
			if serve == "ServeBuiltinIfPlugin" {
				env = append(env, envServeBuiltin+"=1")
			}
			oneShotProcess(t, env)
		})
	}
}

func oneShotProcess(t *testing.T, env []string) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(OneShotRequest{Version: 1, Phase: PhaseApply, Action: "greet", Input: json.RawMessage(`{"name":"ops"}`)})
	cmd := exec.Command(exe)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	ans, err := ReadOneShot(&stdout)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if string(ans.Output) != `{"message":"hello, ops","notes":0}` {
		t.Errorf("output %s", ans.Output)
	}
	if !strings.Contains(stderr.String(), "forged") {
		t.Errorf("the action's own print is not on standard error: %q", stderr.String())
	}
}

func FuzzReadOneShot(f *testing.F) {
	f.Add([]byte(`{"progress":{"message":"x","done":1,"total":2}}` + "\n" + `{"note":{"key":"k","value":{"a":1}}}` + "\n" +
		`{"attachment":{"field":"e","path":"/x","seq":0,"data":"AA==","last":true,"size":1,"sha256":"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}}` + "\n" +
		`{"result":{"output":{"ok":true}}}` + "\n"))
	f.Add([]byte(`{"result":{"error":{"code":"plugin.panic","message":"boom"}}}`))
	f.Add([]byte(`{"result":{"plan":{"summary":"s","changes":[{"kind":"create","target":"t"}],"payload":{"p":1}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ans, err := ReadOneShot(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrOneShot) {
				t.Fatalf("error %v does not wrap ErrOneShot", err)
			}
			return
		}
		if ans.Plan == nil && ans.Output == nil && ans.Err == nil {
			t.Fatalf("an answer with no result: %+v", ans)
		}
	})
}

func FuzzDecodeOneShotRequest(f *testing.F) {
	f.Add([]byte(`{"version":1,"phase":"apply","action":"stop","step":"stop","attempt":1,"input":{"pid":1},"approved":{"summary":"s","payload":{}},"notes":{"k":1},"attach":["result.evidence_dir"]}`))
	f.Add([]byte(`{"version":1,"phase":"plan","action":"detect"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeOneShotRequest(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrOneShot) && !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error %v wraps neither ErrOneShot nor ErrInvalidInput", err)
			}
			return
		}
		if req.Version != OneShotVersion || req.Action == "" || (req.Phase != PhasePlan && req.Phase != PhaseApply) {
			t.Fatalf("accepted %+v", req)
		}
		// Whatever decodes runs to an answer the host can read.
		var out bytes.Buffer
		serveOneShot(context.Background(), Actions{}, bytes.NewReader(b), &out, io.Discard)
		if _, err := ReadOneShot(&out); err != nil {
			t.Fatalf("answer unreadable: %v", err)
		}
	})
}
