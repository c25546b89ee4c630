# mmdet3dctx: `make install`, `make test`, `make demo`.
# Every target sets up what it needs; a second run skips work already done (stamp files in .venv/).

PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(PY) -m pip
# mmcv's compiled wheel is kept outside the repository so a fresh clone on the same machine reuses it.
WHEEL_DIR  ?= $(HOME)/.cache/mmdet3dctx/wheels
# An existing torch is kept: auto = when $(PYTHON_SYS) imports torch, the venv sees it (--system-site-packages);
# 1 = always so, 0 = an isolated venv with requirements/torch.txt.
USE_SYSTEM_TORCH ?= auto
# Where requirements/torch.txt comes from: auto = the CPU wheel index on a machine without an NVIDIA GPU (unless
# pip has local wheels), none = pip's own indexes, or an index URL (e.g. https://download.pytorch.org/whl/cu121).
TORCH_INDEX_URL ?= auto
CHECK      := tools/check_build_env.py
MMCV_VER   := $(shell sed -n 's/^mmcv==//p' requirements/mmcv.txt)
PYTEST_ARGS ?=

.PHONY: install test test-fast demo bench clean-venv

install: $(VENV)/.stamp-project

$(VENV)/.stamp-venv:
	$(PYTHON_SYS) $(CHECK) python
	$(PYTHON_SYS) -m venv $$($(PYTHON_SYS) $(CHECK) venv-args --use-system-torch $(USE_SYSTEM_TORCH)) $(VENV)
	touch $@

$(VENV)/.stamp-torch: $(VENV)/.stamp-venv requirements/torch.txt requirements/build.txt
	$(PY) $(CHECK) has-torch || \
	  $(PIP) install -r requirements/torch.txt $$($(PY) $(CHECK) torch-pip-args --index-url "$(TORCH_INDEX_URL)")
	$(PIP) install -r requirements/build.txt
	touch $@

# mmcv is built from source with its ops against the torch above, once per torch/CUDA/architectures (CPU ops:
# about 20 minutes on 2 cores). The check says first what is missing (compiler, nvcc matching torch's CUDA, GPU
# architectures) and decides: CUDA ops (FORCE_CUDA=1, TORCH_CUDA_ARCH_LIST from the visible GPUs or yours) when
# torch has CUDA, CPU ops otherwise or with FORCE_CUDA=0; the wheel's cache folder (MMCV_WHEEL_DIR) tells them apart.
$(VENV)/.stamp-mmcv: $(VENV)/.stamp-torch requirements/mmcv.txt requirements/runtime.txt
	$(PIP) install -r requirements/build.txt -r requirements/runtime.txt
	@build=$$($(PY) $(CHECK) mmcv --wheel-dir $(WHEEL_DIR)) || exit 1; eval "$$build"; \
	if ! ls $$MMCV_WHEEL_DIR/mmcv-$(MMCV_VER)-*.whl >/dev/null 2>&1; then \
	  echo "building mmcv $(MMCV_VER) with $$MMCV_BUILD from source into $$MMCV_WHEEL_DIR (once)"; \
	  mkdir -p $$MMCV_WHEEL_DIR && \
	  MMCV_WITH_OPS=1 MAX_JOBS=$$(nproc) $(PIP) wheel --no-build-isolation --no-deps \
	    --no-binary mmcv -w $$MMCV_WHEEL_DIR -r requirements/mmcv.txt || exit 1; \
	fi; \
	echo "$(PIP) install $$MMCV_WHEEL_DIR/mmcv-$(MMCV_VER)-*.whl"; \
	$(PIP) install $$MMCV_WHEEL_DIR/mmcv-$(MMCV_VER)-*.whl
	$(PY) -c "import mmcv.ops; from mmcv.ops import nms, RoIAlign; print('mmcv', mmcv.__version__, 'ops ok')"
	touch $@

$(VENV)/.stamp-project: $(VENV)/.stamp-mmcv requirements/mmdet.txt requirements/dicom.txt requirements/tests.txt \
		requirements/mim.txt requirements/tests-nodeps.txt setup.py
	$(PIP) install -r requirements/build.txt -r requirements/runtime.txt -r requirements/mmdet.txt \
		-r requirements/dicom.txt -r requirements/tests.txt -r requirements/mim.txt
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
