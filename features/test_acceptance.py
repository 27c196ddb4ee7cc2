"""Binds every scenario of every feature file under features/ (steps: features/steps/)."""

from pytest_bdd import scenarios

scenarios(".")
