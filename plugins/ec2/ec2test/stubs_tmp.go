package ec2test

import "net/http"

// Auto Scaling, ELBv2 and CloudWatch are not served yet: they answer 501.

type asg struct{}
type targetGroup struct{}

func (g *asg) removeInstance(string) {}
func (t *targetGroup) remove(string) {}

var asgHandlers = map[string]func(*qnode) (any, error){}
var elbHandlers = map[string]func(*qnode) (any, error){}

func notYet(w http.ResponseWriter) {
	http.Error(w, "ec2test: service not implemented yet", http.StatusNotImplemented)
}

func (s *Server) asgHandler(string) func(*qnode) (any, error) { return nil }
func (s *Server) elbHandler(string) func(*qnode) (any, error) { return nil }
