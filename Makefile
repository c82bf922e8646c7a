.PHONY: setup demo test bench dev down

setup:
	bash scripts/setup.sh

demo: setup
	node bin/shipgate.js demo

test:
	bash scripts/test.sh

bench: setup
	npm run -s bench

dev: setup
	node bin/shipgate.js dev

down:
	node bin/shipgate.js down
