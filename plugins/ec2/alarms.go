package ec2

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// Thresholds configure the alarms; zero fields take the defaults.
type Thresholds struct {
	// NetworkOutBytes: Sum over one period above which NetworkOut alarms
	// (default 1 GiB per 5 minutes).
	NetworkOutBytes float64 `json:"network_out_bytes"`
	// NetworkPacketsOut: Sum over one period (default 1,000,000 per 5
	// minutes, about 3,300 packets/s — a SYN scan passes it quickly).
	NetworkPacketsOut float64 `json:"network_packets_out"`
	// CPUPercent: Average above which CPUUtilization alarms (default 90).
	CPUPercent float64 `json:"cpu_percent"`
	// Period in seconds for the network and CPU alarms (default 300).
	Period int32 `json:"period"`
	// EvaluationPeriods for the network and CPU alarms (default 2).
	EvaluationPeriods int32 `json:"evaluation_periods"`
}

// DefaultThresholds are used for zero Thresholds fields.
var DefaultThresholds = Thresholds{NetworkOutBytes: 1 << 30, NetworkPacketsOut: 1_000_000, CPUPercent: 90, Period: 300, EvaluationPeriods: 2}

// AlarmsInput names the instance and where alarms notify.
type AlarmsInput struct {
	Incident   Incident
	InstanceID string
	// SNSTopicARN, when set, is the alarm (and OK) action.
	SNSTopicARN string
	Thresholds  Thresholds
}

// Alarm is one CloudWatch alarm PutMetricAlarm will create or update.
type Alarm struct {
	Name              string  `json:"name"`
	Metric            string  `json:"metric"`
	Statistic         string  `json:"statistic"`
	Comparison        string  `json:"comparison"`
	Threshold         float64 `json:"threshold"`
	Period            int32   `json:"period"`
	EvaluationPeriods int32   `json:"evaluation_periods"`
	TreatMissingData  string  `json:"treat_missing_data"`
	// Actions are the alarm actions, OKActions the OK actions: the SNS
	// topic when one is given, else those the existing alarm already has
	// (a re-run without a topic keeps them).
	Actions   []string `json:"actions,omitempty"`
	OKActions []string `json:"ok_actions,omitempty"`
	Exists    bool     `json:"exists"`
}

// AlarmsPlan is what ApplyAlarms will put.
type AlarmsPlan struct {
	Step       string   `json:"step"`
	Incident   Incident `json:"incident"`
	InstanceID string   `json:"instance_id"`
	Alarms     []Alarm  `json:"alarms"`
}

// AlarmName is the name abusekit gives an instance's alarm on metric.
func AlarmName(instanceID, metric string) string { return "abusekit-" + instanceID + "-" + metric }

// PlanAlarms builds the four alarms and marks those that already exist
// (PutMetricAlarm then updates them in place).
func PlanAlarms(ctx context.Context, c *Clients, in AlarmsInput) (*AlarmsPlan, error) {
	if err := in.Incident.validate(stepAlarms); err != nil {
		return nil, err
	}
	if in.InstanceID == "" {
		return nil, &StepError{Step: stepAlarms, Err: errf("%w: no instance id", ErrInvalidInput)}
	}
	if c == nil {
		return nil, &StepError{Step: stepAlarms, Err: ErrMissingClient}
	}
	if err := need(stepAlarms, c.DescribeAlarms); err != nil {
		return nil, err
	}
	t := in.Thresholds
	d := DefaultThresholds
	if t.NetworkOutBytes <= 0 {
		t.NetworkOutBytes = d.NetworkOutBytes
	}
	if t.NetworkPacketsOut <= 0 {
		t.NetworkPacketsOut = d.NetworkPacketsOut
	}
	if t.CPUPercent <= 0 || t.CPUPercent > 100 {
		t.CPUPercent = d.CPUPercent
	}
	if t.Period <= 0 {
		t.Period = d.Period
	} else if t.Period%60 != 0 && t.Period != 10 && t.Period != 20 && t.Period != 30 {
		return nil, &StepError{Step: stepAlarms, Err: errf("%w: period %d must be 10, 20, 30 or a multiple of 60", ErrInvalidInput, t.Period)}
	}
	if t.EvaluationPeriods <= 0 {
		t.EvaluationPeriods = d.EvaluationPeriods
	}
	var actions []string
	if in.SNSTopicARN != "" {
		actions = []string{in.SNSTopicARN}
	}
	gt := string(cwtypes.ComparisonOperatorGreaterThanThreshold)
	p := &AlarmsPlan{Step: stepAlarms, Incident: in.Incident, InstanceID: in.InstanceID, Alarms: []Alarm{
		{Metric: "NetworkOut", Statistic: "Sum", Comparison: gt, Threshold: t.NetworkOutBytes, Period: t.Period, EvaluationPeriods: t.EvaluationPeriods, TreatMissingData: "notBreaching"},
		{Metric: "NetworkPacketsOut", Statistic: "Sum", Comparison: gt, Threshold: t.NetworkPacketsOut, Period: t.Period, EvaluationPeriods: t.EvaluationPeriods, TreatMissingData: "notBreaching"},
		{Metric: "CPUUtilization", Statistic: "Average", Comparison: gt, Threshold: t.CPUPercent, Period: t.Period, EvaluationPeriods: t.EvaluationPeriods, TreatMissingData: "notBreaching"},
		{Metric: "StatusCheckFailed", Statistic: "Maximum", Comparison: string(cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold), Threshold: 1, Period: 60, EvaluationPeriods: 2, TreatMissingData: "missing"},
	}}
	var names []string
	for i := range p.Alarms {
		p.Alarms[i].Name = AlarmName(in.InstanceID, p.Alarms[i].Metric)
		p.Alarms[i].Actions, p.Alarms[i].OKActions = actions, actions
		names = append(names, p.Alarms[i].Name)
	}
	out, err := c.DescribeAlarms.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
	if err != nil {
		return nil, stepErr(stepAlarms, "DescribeAlarms", in.InstanceID, err)
	}
	existing := map[string]cwtypes.MetricAlarm{}
	for _, a := range out.MetricAlarms {
		existing[aws.ToString(a.AlarmName)] = a
	}
	for i := range p.Alarms {
		old, ok := existing[p.Alarms[i].Name]
		p.Alarms[i].Exists = ok
		if ok && in.SNSTopicARN == "" {
			// PutMetricAlarm replaces the whole alarm: without a topic
			// now, keep the actions someone set before.
			p.Alarms[i].Actions, p.Alarms[i].OKActions = old.AlarmActions, old.OKActions
		}
	}
	return p, nil
}

// ApplyAlarms puts every alarm of the plan (PutMetricAlarm is idempotent:
// it creates or replaces by name).
func ApplyAlarms(ctx context.Context, c *Clients, p *AlarmsPlan) error {
	if p == nil {
		return &StepError{Step: stepAlarms, Err: errf("%w: nil plan", ErrInvalidInput)}
	}
	if c == nil {
		return &StepError{Step: stepAlarms, Err: ErrMissingClient}
	}
	if err := need(stepAlarms, c.PutMetricAlarm); err != nil {
		return err
	}
	for _, a := range p.Alarms {
		in := &cloudwatch.PutMetricAlarmInput{
			AlarmName:          aws.String(a.Name),
			AlarmDescription:   aws.String(fmt.Sprintf("abusekit incident %s: %s %s %s %g on %s", p.Incident.ID, a.Metric, a.Statistic, a.Comparison, a.Threshold, p.InstanceID)),
			Namespace:          aws.String("AWS/EC2"),
			MetricName:         aws.String(a.Metric),
			Dimensions:         []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(p.InstanceID)}},
			Statistic:          cwtypes.Statistic(a.Statistic),
			ComparisonOperator: cwtypes.ComparisonOperator(a.Comparison),
			Threshold:          aws.Float64(a.Threshold),
			Period:             aws.Int32(a.Period),
			EvaluationPeriods:  aws.Int32(a.EvaluationPeriods),
			TreatMissingData:   aws.String(a.TreatMissingData),
			ActionsEnabled:     aws.Bool(len(a.Actions)+len(a.OKActions) > 0),
			AlarmActions:       a.Actions,
			OKActions:          a.OKActions,
			Tags: []cwtypes.Tag{
				{Key: aws.String(TagIncident), Value: aws.String(p.Incident.ID)},
				{Key: aws.String(TagInstance), Value: aws.String(p.InstanceID)},
			},
		}
		if _, err := c.PutMetricAlarm.PutMetricAlarm(ctx, in); err != nil {
			return stepErr(stepAlarms, "PutMetricAlarm", a.Name, err)
		}
	}
	return nil
}

// Alarms plans and applies in one call.
func Alarms(ctx context.Context, c *Clients, in AlarmsInput) (*AlarmsPlan, error) {
	p, err := PlanAlarms(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return p, ApplyAlarms(ctx, c, p)
}
