"""Optimizers with torch.optim's update rules, and learning-rate schedules (``mm.optim.schedules``).

>>> import numpy as np, modelmgmt as mm
>>> params = {"w": np.zeros(3)}
>>> opt = mm.optim.Adam(lr=0.1)
>>> opt.step(params, {"w": np.array([1.0, -2.0, 0.0])})
>>> params["w"].round(6)
array([-0.1,  0.1,  0. ])
"""

from __future__ import annotations

from modelmgmt.optim import schedules
from modelmgmt.optim.adagrad import Adagrad
from modelmgmt.optim.adam import Adam, AdamW
from modelmgmt.optim.base import Optimizer
from modelmgmt.optim.rmsprop import RMSprop
from modelmgmt.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "schedules"]
