"""Simulated robots that publish the real drivers' topics. The core (scene, MujocoSim, camera) imports no rclpy."""
