// Command coredns is CoreDNS with the plugins the lab's Corefile (node/Corefile.in) uses and those
// they pull in, no others. `coredns -plugins` lists them; a Corefile naming any other plugin fails
// at start with CoreDNS's "Unknown directive" error: add the plugin's import and its name below.
package main

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
)

// directives: every plugin this binary registers, in the execution order of CoreDNS's plugin.cfg
// (the order a query passes through them, whatever their order in the Corefile). Besides the
// seven imported above, kubernetes, forward and cache register debug, dnstap, metadata, prometheus
// (plugin/metrics) and transfer through their own imports; they are linked anyway, so they are
// usable too, and `coredns -plugins` lists only what a Corefile may name.
var directives = []string{
	"metadata",
	"bind",
	"debug",
	"ready",
	"prometheus",
	"errors",
	"dnstap",
	"cache",
	"transfer",
	"kubernetes",
	"loop",
	"forward",
}

func main() {
	if err := dnsserver.SetDirectives(directives); err != nil {
		fmt.Fprintf(os.Stderr, "coredns: %v\n", err)
		os.Exit(1)
	}
	coremain.Run()
}
