package scan_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/abusekit/abusekit/plugins/scan"
	"github.com/abusekit/abusekit/plugins/scan/scantest"
)

// seedHost writes a fake /proc of the seed incident: work32, started by
// cron from a hidden directory under /tmp and deleted, SYN-scanning port 22.
func seedHost() string {
	dir, err := os.MkdirTemp("", "scan-example")
	if err != nil {
		log.Fatal(err)
	}
	work32 := scantest.Proc{PID: 4242, PPID: 880, Comm: "work32", Exe: "/tmp/.x/work32 (deleted)",
		Cmdline: []string{"/tmp/.x/work32"}, StartTime: 100}
	for i := range 40 {
		work32.Sockets = append(work32.Sockets, scantest.Sock{Table: "tcp", IP: procfs.NetIPSocket{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("172.31.5.9"), uint16(50000+i)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 22),
			State:  procfs.TCPSynSent}})
	}
	err = scantest.Write(dir, scantest.Host{Procs: []scantest.Proc{
		{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd"},
		{PID: 880, PPID: 1, Comm: "cron", Exe: "/usr/sbin/cron"},
		work32,
	}})
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

func ExampleDetect() {
	root := seedHost() // a live host: leave Root empty
	defer os.RemoveAll(root)

	sus, err := scan.Detect(context.Background(), scan.Options{Root: root})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range sus {
		fmt.Println(s.PID, s.Exe, "deleted:", s.ExeDeleted, "score:", s.Score)
		for _, r := range s.Reasons {
			fmt.Println(" ", r)
		}
	}
	// Output:
	// 4242 /tmp/.x/work32 deleted: true score: 150
	//   +35 40 SYN_SENT sockets to 40 distinct hosts and 1 distinct ports
	//   +25 executable /tmp/.x/work32 was deleted from disk
	//   +30 executable in hidden directory /tmp/.x under /tmp
	//   +45 process name "work32" is a known scanner/miner name (work32)
	//   +15 started by cron (pid 880)
}

func ExamplePlanStop() {
	root := seedHost()
	defer os.RemoveAll(root)

	plan, err := scan.PlanStop(context.Background(), 4242, scan.StopOptions{Root: root, EvidenceDir: "/var/lib/abusekit/evidence/case-1"})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range plan.Steps {
		fmt.Println(s)
	}
	// Stop without Apply is a dry run; on the live /proc, Apply carries it out.
	res, err := scan.Stop(context.Background(), plan, scan.ApplyOptions{})
	fmt.Println("dry run:", res.DryRun, err)

	_, err = scan.PlanStop(context.Background(), 1, scan.StopOptions{Root: root})
	fmt.Println(errors.Is(err, scan.ErrProtectedPID))
	// Output:
	// re-check identity of pid 4242 (work32, start 100, exe /tmp/.x/work32 (deleted) inode 0)
	// freeze 1 process(es) with SIGSTOP through pidfds: [4242]
	// capture evidence into /var/lib/abusekit/evidence/case-1 (at most 1073741824 bytes, each file at most 536870912, each inode once, holes kept): sockets, fds, maps, memory regions up to 67108864 bytes (anonymous, heap and stack first, each hashed), environ, cmdline, status, cwd, parent chain, executable (SHA-256), deleted files held open; manifest.json
	// re-check identity of every frozen process
	// SIGKILL 1 process(es) and wait for them to exit
	// dry run: true <nil>
	// true
}
