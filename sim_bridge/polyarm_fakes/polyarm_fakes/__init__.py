"""Robot controllers simulated at their network protocols, to run the real drivers and the vendors' own
programs against with no arm: the xArm controller and the Dynamixel bus (the project's), and franky-sim."""
