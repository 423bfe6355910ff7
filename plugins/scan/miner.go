package scan

import (
	"bytes"
	"regexp"
	"strings"
)

// Signals of impostors and miners.
const (
	// SignalImpostor marks a user process named like a kernel thread
	// ("[kworker/0:1]", "kthreadd"): kernel threads have no executable
	// and no memory map, so a process that has them and wears the name
	// hides in ps output, as miners and botnets do.
	SignalImpostor Signal = "kthread-impostor"
	// SignalPoolPort marks outbound connections to ports mining pools
	// serve stratum on.
	SignalPoolPort Signal = "pool-port"
	// SignalMinerShape marks a process holding a CPU near saturation over
	// the window with one to three long outbound connections and no
	// listener: a miner with its pool, whatever its name.
	SignalMinerShape Signal = "miner-shape"
)

const (
	weightImpostor   = 50
	weightPoolPort   = 25
	weightMinerShape = 15
)

// PoolPorts are TCP ports mining pools commonly serve stratum on (pool
// documentation and miner configurations seen in incidents: 3333 and its
// neighbours, 4444, 5555, 7777, 14433/14444 for Monero pools, 45560/45700).
var PoolPorts = map[uint16]bool{
	3333: true, 3334: true, 3335: true, 3336: true, 3357: true, 4444: true, 5555: true, 5588: true, 6666: true,
	7777: true, 8008: true, 9999: true, 10128: true, 10300: true, 14433: true, 14444: true, 20535: true, 45560: true, 45700: true,
}

// kernelThreadRE matches names of kernel threads as ps shows them.
// The per-CPU and per-device ones by prefix, the single ones whole (so
// that a look-alike such as "kdevtmpfsi" is left to KnownNames).
var kernelThreadRE = regexp.MustCompile(`^\[?(kworker/|ksoftirqd/|migration/|rcu_|watchdog/|cpuhp/|jbd2/|irq/|scsi_|idle_inject/|` +
	`(kthreadd|kswapd\d*|khugepaged|kcompactd\d*|kblockd|kauditd|ksmd|kdevtmpfs|oom_reaper|writeback|kintegrityd|netns|kthrotld)\]?$)`)

// impostorName returns the name under which a user process poses as a
// kernel thread: its argv[0] in brackets (ps puts brackets only round
// kernel threads, which have no command line), or a kernel thread's name
// as argv[0] or comm. "" when it does not.
func impostorName(comm string, cmdline []string) string {
	if len(cmdline) > 0 {
		a := strings.TrimSpace(cmdline[0])
		if len(a) > 2 && a[0] == '[' && a[len(a)-1] == ']' {
			return a
		}
		if kernelThreadRE.MatchString(a) {
			return a
		}
	}
	if kernelThreadRE.MatchString(comm) {
		return comm
	}
	return ""
}

// SignalStratum marks a process whose TCP send began with a stratum
// request (live BPF attribution): it talks to a mining pool, whatever it
// is called and whatever port the pool listens on.
const SignalStratum Signal = "stratum"

const weightStratum = 45

// stratumMethods are the methods that begin a miner's sends: stratum v1
// (mining.*), the Monero/CryptoNote dialect xmrig and cpuminer speak
// (login, submit, keepalived, getjob) and Ethereum's stratum proxy dialect
// (eth_submitLogin, eth_getWork, eth_submitWork, eth_submitHashrate).
var stratumMethods = map[string]bool{
	"login": true, "submit": true, "keepalived": true, "getjob": true,
	"eth_submitLogin": true, "eth_getWork": true, "eth_submitWork": true, "eth_submitHashrate": true,
}

// stratumMethod returns the stratum method of a JSON-RPC request that
// begins b (a send's first bytes, possibly cut short): b starts with '{'
// and has a "method" member whose string value is a mining.* method or
// one of stratumMethods. ok is false for anything else, including a
// method cut off by the end of b.
func stratumMethod(b []byte) (method string, ok bool) {
	if len(b) == 0 || b[0] != '{' {
		return "", false
	}
	const key = `"method"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := bytes.TrimLeft(b[i+len(key):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return "", false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return "", false
	}
	rest = rest[1:]
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || end > 64 {
		return "", false
	}
	m := string(rest[:end])
	for _, c := range m {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return "", false
		}
	}
	if (strings.HasPrefix(m, "mining.") && len(m) > len("mining.")) || stratumMethods[m] {
		return m, true
	}
	return "", false
}
