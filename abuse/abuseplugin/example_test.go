package abuseplugin_test

import (
	"context"
	"fmt"
	"time"

	"github.com/abusekit/abusekit/abuse"
	"github.com/abusekit/abusekit/abuse/abuseplugin"
	"github.com/abusekit/abusekit/playbook/plugintest"
)

// Parse a Trust & Safety notice and draft the reply with the plugin's
// actions, run in-process as a host would see them. In a playbook the
// reply step takes the report as ${{ steps.parse.reports[0] }}.
func ExampleNewPlugin() {
	ctx := context.Background()
	actions := abuseplugin.NewPlugin()

	plan, err := plugintest.Plan(ctx, actions["parse"], abuseplugin.ParseInput{Path: "../testdata/trust-and-safety/initial-notice.eml"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("plan:", plan.Changes[0].Kind, plan.Changes[0].Detail)

	parsed, err := plugintest.Apply[abuseplugin.ParseOutput](ctx, actions["parse"], abuseplugin.ParseInput{Path: "../testdata/trust-and-safety/initial-notice.eml"})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := parsed.Reports[0]
	fmt.Println("incident:", parsed.IncidentID, r.Source, r.Kind, r.Resources.InstanceIDs)

	reply, err := plugintest.Apply[abuseplugin.ReplyOutput](ctx, actions["reply"], abuseplugin.ReplyInput{
		Report: r,
		Actions: []abuse.Action{{Time: time.Date(2023, 4, 27, 17, 2, 15, 0, time.UTC), Step: abuse.StepProcessStopped,
			Summary: "Captured and killed the scanning process (PID 2314, /tmp/.ICE-unix/work32)"}},
		Signature: "Example Corp operations",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("subject:", reply.Subject)
	fmt.Println("files written:", len(reply.Files))
	// Output:
	// plan: read 1669 bytes: 1 report(s) [trust-and-safety], 3 evidence record(s), incident 17001234567
	// incident: 17001234567 trust-and-safety portscan [i-0123456789abcdef0]
	// subject: Re: Your EC2 Abuse Report [17001234567] [AWS ID 123456789012]
	// files written: 0
}
