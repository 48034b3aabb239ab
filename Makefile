# fusionsam_mmseg: the two commands of the README, plus the install step.
#   make demo   install if needed, make demo data, train + test FusionSAM-tiny,
#               draw a visible | thermal | fused | prediction panel
#   make test   install if needed, run the test suite (2 xdist workers;
#               PYTEST_JOBS=0 runs it in one process)
PYTHON ?= python
DEMO_DATA ?= data/demo_mfnet
DEMO_CONFIG ?= configs/fusionsam_tiny_demo.py
DEMO_WORK_DIR ?= work_dirs/demo
# two pytest-xdist workers: the tests run one process each (OMP_NUM_THREADS=1)
PYTEST_JOBS ?= 2
PYTEST_ARGS ?=

.PHONY: install demo demo-data test

install:
	PYTHON=$(PYTHON) bash tools/install/install_stack.sh

demo-data:
	@if [ -f $(DEMO_DATA)/train.txt ]; then \
	  echo "[demo] using existing demo data in $(DEMO_DATA)"; \
	else \
	  $(PYTHON) tools/dataset_converters/make_demo_rgbt.py --out $(DEMO_DATA); \
	fi

demo: install demo-data
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) \
	  --cfg-options train_dataloader.dataset.data_root=$(DEMO_DATA) \
	  test_dataloader.dataset.data_root=$(DEMO_DATA) \
	  val_dataloader.dataset.data_root=$(DEMO_DATA)
	$(PYTHON) tools/test.py $(DEMO_CONFIG) \
	  $$(cat $(DEMO_WORK_DIR)/last_checkpoint) --work-dir $(DEMO_WORK_DIR) \
	  --cfg-options test_dataloader.dataset.data_root=$(DEMO_DATA)
	$(PYTHON) demo/image_demo.py \
	  $(DEMO_DATA)/images/$$(head -n 1 $(DEMO_DATA)/test_night.txt).png - \
	  $(DEMO_CONFIG) $$(cat $(DEMO_WORK_DIR)/last_checkpoint) \
	  --out-file $(DEMO_WORK_DIR)/demo_panel.png
	@echo "[demo] per-class IoU table above; panel: $(DEMO_WORK_DIR)/demo_panel.png"

test: install
	$(PYTHON) -m pytest tests -q -rs -n $(PYTEST_JOBS) --dist loadgroup $(PYTEST_ARGS)
