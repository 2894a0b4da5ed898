// Command kube-router is kube-router's NetworkPolicy controller alone, for the lab's node.
//
// It accepts kube-router's own command line (every flag of pkg/options), so it runs as
// `kube-router --run-firewall=true --run-router=false --run-service-proxy=false ...`, but it
// contains neither the BGP routing controller, nor the IPVS service proxy, nor the load balancer
// allocator: asking for one of them is an error. The wiring follows kube-router's pkg/cmd, cut
// down to the informers the policy controller watches (pods, namespaces, NetworkPolicies).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/metrics"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/cloudnativelabs/kube-router/v2/pkg/utils"
	"github.com/cloudnativelabs/kube-router/v2/pkg/version"
	"github.com/spf13/pflag"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "kube-router (NetworkPolicy controller only): %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	klog.InitFlags(nil)
	config := options.NewKubeRouterConfig()
	config.AddFlags(pflag.CommandLine)
	// kube-router turns the router and the service proxy on by default; this build has neither.
	for _, name := range []string{"run-router", "run-service-proxy"} {
		f := pflag.CommandLine.Lookup(name)
		if err := f.Value.Set("false"); err != nil {
			return err
		}
		f.DefValue = "false"
	}
	pflag.Parse()
	// klog's flags live on the standard flag set; kube-router parses them empty, then sets them.
	if err := flag.CommandLine.Parse(nil); err != nil {
		return fmt.Errorf("parsing klog flags: %w", err)
	}
	if err := flag.Set("logtostderr", "true"); err != nil {
		return err
	}
	if err := flag.Set("v", config.VLevel); err != nil {
		return fmt.Errorf("--v %q: %w", config.VLevel, err)
	}
	if config.HelpRequested {
		pflag.Usage()
		return nil
	}
	if config.Version {
		version.PrintVersion(false)
		return nil
	}
	if err := checkConfig(config); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root: it runs iptables and ipset")
	}
	client, err := newClient(config)
	if err != nil {
		return err
	}
	return runPolicyController(client, config)
}

// checkConfig refuses what this build does not contain, naming the flag and the fix.
func checkConfig(config *options.KubeRouterConfig) error {
	unsupported := []struct {
		flag string
		set  bool
	}{
		{"--run-router", config.RunRouter},
		{"--run-service-proxy", config.RunServiceProxy},
		{"--run-loadbalancer", config.RunLoadBalancer},
		{"--cleanup-config", config.CleanupConfig},
		{"--enable-pprof", config.EnablePprof},
	}
	for _, u := range unsupported {
		if u.set {
			return fmt.Errorf("%s=true is not supported: this build holds only the NetworkPolicy controller "+
				"(pass %s=false; the lab removes the controller's rules with 'tests/lab/cluster/node.sh policy down')", u.flag, u.flag)
		}
	}
	if !config.RunFirewall {
		return errors.New("--run-firewall=false leaves nothing to run: this build is the NetworkPolicy controller only (pass --run-firewall=true)")
	}
	return nil
}

func newClient(config *options.KubeRouterConfig) (kubernetes.Interface, error) {
	version.PrintVersion(true)
	version.PrintVersionMessages(true)
	var restConfig *rest.Config
	var err error
	if config.Master != "" || config.Kubeconfig != "" {
		restConfig, err = clientcmd.BuildConfigFromFlags(config.Master, config.Kubeconfig)
	} else {
		restConfig, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("building the API client configuration (--kubeconfig %q, --master %q): %w",
			config.Kubeconfig, config.Master, err)
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	return client, nil
}

// runPolicyController runs the health checker, the optional metrics server and the policy
// controller until SIGINT or SIGTERM.
func runPolicyController(client kubernetes.Interface, config *options.KubeRouterConfig) error {
	var ipsetMutex sync.Mutex
	var wg sync.WaitGroup
	healthChan := make(chan *healthcheck.ControllerHeartbeat, 10)
	defer close(healthChan)
	stopCh := make(chan struct{})

	hc, err := healthcheck.NewHealthController(config)
	if err != nil {
		return fmt.Errorf("creating the health controller: %w", err)
	}
	wg.Add(1)
	go hc.RunServer(stopCh, &wg)

	factory := informers.NewSharedInformerFactory(client, 0)
	podInformer := factory.Core().V1().Pods().Informer()
	nsInformer := factory.Core().V1().Namespaces().Informer()
	npInformer := factory.Networking().V1().NetworkPolicies().Informer()
	factory.Start(stopCh)
	if err := waitForCaches(factory, stopCh, config.CacheSyncTimeout); err != nil {
		return err
	}
	hc.SetAlive()
	wg.Add(1)
	go hc.RunCheck(healthChan, stopCh, &wg)

	if err := startMetrics(config, healthChan, stopCh, &wg); err != nil {
		return err
	}

	iptablesHandlers, ipsetHandlers, err := netpol.NewIPTablesHandlers(config)
	if err != nil {
		return fmt.Errorf("creating the iptables/ipset handlers: %w", err)
	}
	npc, err := netpol.NewNetworkPolicyController(client, config, podInformer, npInformer, nsInformer,
		&ipsetMutex, iptablesHandlers, ipsetHandlers)
	if err != nil {
		return fmt.Errorf("creating the NetworkPolicy controller: %w", err)
	}
	if _, err := podInformer.AddEventHandler(npc.PodEventHandler); err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	if _, err := nsInformer.AddEventHandler(npc.NamespaceEventHandler); err != nil {
		return fmt.Errorf("watching namespaces: %w", err)
	}
	if _, err := npInformer.AddEventHandler(npc.NetworkPolicyEventHandler); err != nil {
		return fmt.Errorf("watching NetworkPolicies: %w", err)
	}
	wg.Add(1)
	go npc.Run(healthChan, stopCh, &wg)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	klog.Info("Shutting down the NetworkPolicy controller")
	close(stopCh)
	wg.Wait()
	return nil
}

func waitForCaches(factory informers.SharedInformerFactory, stopCh <-chan struct{}, timeout time.Duration) error {
	synced := make(chan struct{})
	go func() {
		factory.WaitForCacheSync(stopCh)
		close(synced)
	}()
	select {
	case <-synced:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("informer caches not synced after %s (--cache-sync-timeout)", timeout)
	}
}

func startMetrics(config *options.KubeRouterConfig, healthChan chan<- *healthcheck.ControllerHeartbeat,
	stopCh <-chan struct{}, wg *sync.WaitGroup) error {
	if config.MetricsPort == 0 || config.MetricsPort >= 65535 {
		klog.Infof("Metrics disabled (--metrics-port %d)", config.MetricsPort)
		config.MetricsEnabled = false
		return nil
	}
	if err := utils.TCPAddressBindable(config.MetricsAddr, config.MetricsPort); err != nil {
		return fmt.Errorf("--metrics-addr %s --metrics-port %d: %w", config.MetricsAddr, config.MetricsPort, err)
	}
	config.MetricsEnabled = true
	mc, err := metrics.NewMetricsController(config)
	if err != nil {
		return fmt.Errorf("creating the metrics controller: %w", err)
	}
	wg.Add(1)
	go mc.Run(healthChan, stopCh, wg)
	return nil
}
