"""Frames from the greenhouse sensor bus: "<sensor_id>;<temp>;<humidity>".

The firmware sends the temperature in tenths of a degree Celsius (215 = 21.5 C) and the humidity in
percent. Readings handed to the rest of the system are in degrees Celsius.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    sensor: str
    temperature: float  # degrees Celsius
    humidity: int  # percent


def parse_frame(frame: str) -> Reading:
    sensor, temp, humidity = frame.strip().split(";")
    return Reading(sensor=sensor, temperature=int(temp), humidity=int(humidity))
