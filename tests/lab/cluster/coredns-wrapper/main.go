// Command coredns is CoreDNS with the plugins the lab's Corefile (node/Corefile.in) uses and no
// others. `coredns -plugins` lists them; a Corefile naming any other plugin fails at start with
// CoreDNS's "unknown directive" error: add the plugin's import and its name below.
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

// directives: the plugins above, in the execution order of CoreDNS's plugin.cfg (which decides
// the order a query passes through them, whatever their order in the Corefile).
var directives = []string{
	"bind",
	"ready",
	"errors",
	"cache",
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
