# mmdet3dctx: `make install`, `make test`, `make demo`.
# Every target sets up what it needs; a second run skips work already done (stamp files in .venv/).

PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(PY) -m pip
# mmcv's compiled wheel is kept outside the repository so a fresh clone on the same machine reuses it.
WHEEL_DIR  ?= $(HOME)/.cache/mmdet3dctx/wheels
MMCV_VER   := $(shell sed -n 's/^mmcv==//p' requirements/mmcv.txt)
PYTEST_ARGS ?=

.PHONY: install test test-fast demo bench clean-venv

install: $(VENV)/.stamp-project

$(VENV)/.stamp-venv:
	$(PYTHON_SYS) -m venv $(VENV)
	touch $@

$(VENV)/.stamp-torch: $(VENV)/.stamp-venv requirements/torch.txt requirements/build.txt
	$(PIP) install -r requirements/torch.txt
	$(PIP) install -r requirements/build.txt
	touch $@

# mmcv is built from source with its CPU ops against the torch above (about 20 minutes on 2 cores, once).
$(VENV)/.stamp-mmcv: $(VENV)/.stamp-torch requirements/mmcv.txt requirements/runtime.txt
	$(PIP) install -r requirements/build.txt -r requirements/runtime.txt
	@if ! ls $(WHEEL_DIR)/mmcv-$(MMCV_VER)-*.whl >/dev/null 2>&1; then \
	  echo "building mmcv $(MMCV_VER) with ops from source into $(WHEEL_DIR) (once, ~20 min)"; \
	  mkdir -p $(WHEEL_DIR) && \
	  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$$(nproc) $(PIP) wheel --no-build-isolation --no-deps \
	    --no-binary mmcv -w $(WHEEL_DIR) -r requirements/mmcv.txt || exit 1; \
	fi
	$(PIP) install $(WHEEL_DIR)/mmcv-$(MMCV_VER)-*.whl
	$(PY) -c "import mmcv.ops; from mmcv.ops import nms, RoIAlign; print('mmcv', mmcv.__version__, 'ops ok')"
	touch $@

$(VENV)/.stamp-project: $(VENV)/.stamp-mmcv requirements/mmdet.txt requirements/tests.txt \
		requirements/tests-nodeps.txt setup.py
	$(PIP) install -r requirements/build.txt -r requirements/runtime.txt -r requirements/mmdet.txt \
		-r requirements/tests.txt
	$(PIP) install --no-deps --no-build-isolation -r requirements/tests-nodeps.txt
	$(PIP) install --no-build-isolation --no-deps -e .
	$(PY) -c "import mmdet3dctx, mmdet; print('mmdet', mmdet.__version__, 'mmdet3dctx', mmdet3dctx.__version__)"
	touch $@

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

demo: install
	$(PY) tools/demo.py

bench: install
	$(PY) benchmarks/ops.py

clean-venv:
	rm -rf $(VENV)
