// Command etcd is the etcd server, built from the released go.etcd.io/etcd/server/v3 module
// (etcd's own main package lives in a module that cannot be `go install`ed).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
