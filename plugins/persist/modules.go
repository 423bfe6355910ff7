package persist

import (
	"path"
	"strings"
)

// ---- kernel modules loaded at boot ----

// findModules checks the modules named for loading at boot
// (/etc/modules, modules-load.d) against the modules every installed
// kernel ships (modules.dep): a name no kernel ships is a module built for
// this host, the way LKM rootkits (Diamorphine, Reptile) persist. It also
// judges modprobe.d "install" hooks, which run a command instead of
// loading a module.
func (f *finder) findModules() {
	shipped, known := f.shippedModules()
	files := []string{"/etc/modules"}
	for _, d := range []string{"/etc/modules-load.d", "/run/modules-load.d", "/usr/lib/modules-load.d"} {
		for _, e := range f.list(d, KindKernelModule) {
			if strings.HasSuffix(e.Name(), ".conf") {
				files = append(files, d+"/"+e.Name())
			}
		}
	}
	for _, p := range files {
		fl, ok := f.read(p, KindKernelModule, true)
		if !ok {
			continue
		}
		for _, m := range parseModulesLoad(fl.data) {
			var v verdict
			if known && !shipped[m.Name] {
				v.add(High, "loads module "+m.Name+", which no installed kernel ships (an LKM rootkit?)")
			} else {
				v.reasons = []string{"loads module " + m.Name + " at boot"}
			}
			f.entry(fl, KindKernelModule, m.Line, m.Raw, "", v, ActionRemoveLine)
		}
	}
	for _, e := range f.list("/etc/modprobe.d", KindKernelModule) {
		if !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		fl, ok := f.read("/etc/modprobe.d/"+e.Name(), KindKernelModule, true)
		if !ok {
			continue
		}
		for _, h := range parseModprobeHooks(fl.data) {
			switch h.Command {
			case "/bin/true", "/bin/false", "/usr/bin/true", "/usr/bin/false":
				continue // the usual way to blacklist a module
			}
			v := analyzeCommand(h.Command)
			if v.sev > Info {
				f.entry(fl, KindKernelModule, h.Line, h.Raw, "", v, ActionRemoveLine)
			}
		}
	}
}

// shippedModules reads modules.dep (and modules.builtin) of every kernel
// under /lib/modules; known is false when there is none to compare with.
func (f *finder) shippedModules() (map[string]bool, bool) {
	out := map[string]bool{}
	known := false
	for _, k := range f.list("/lib/modules", KindKernelModule) {
		for _, n := range []string{"modules.dep", "modules.builtin"} {
			data, err := f.fs.ReadFile("/lib/modules/"+k.Name()+"/"+n, 64<<20)
			if err != nil {
				continue
			}
			known = true
			for _, line := range strings.Split(string(data), "\n") {
				if i := strings.IndexByte(line, ':'); i >= 0 {
					line = line[:i]
				}
				if line != "" {
					out[modName(path.Base(line))] = true
				}
			}
		}
	}
	return out, known
}

// modName normalises a module file or name: no directory, no .ko(.xz|.zst|.gz),
// dashes as underscores (as modprobe treats them).
func modName(s string) string {
	s = path.Base(s)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}
