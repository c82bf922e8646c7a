.PHONY: setup demo demo-kubernetes test bench dev down

# scripts/setup.sh installs a pinned Node 24 here when the machine's Node is older; every target uses it.
export PATH := $(CURDIR)/.tools/node/bin:$(PATH)

setup:
	bash scripts/setup.sh

demo: setup
	node bin/shipgate.js demo

# The same story on a real Kubernetes control plane (built once on first use: about 20 min cold, then cached).
demo-kubernetes: setup
	bash scripts/kube-plane.sh build
	node bin/shipgate.js demo --kubernetes

test:
	bash scripts/test.sh

bench: setup
	npm run -s bench

dev: setup
	node bin/shipgate.js dev

down:
	node bin/shipgate.js down
