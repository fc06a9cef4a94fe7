"""API.md's Errors rule on a sample of every area: a bad number raises InvalidArgumentError.

Each call passes one refused value (wrong type or out of range) to a public function or
class that takes numbers; the message must name the argument. The good call sits next to
it in the area's own tests.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt.optim import schedules

X = np.random.default_rng(0).normal(size=(20, 3))
Y = (X[:, 0] > 0).astype(int)


def _opt():
    return mm.optim.SGD(lr=0.1)


def _fitted():
    model = mm.models.LogisticRegression()
    model.fit(X, Y, epochs=1, seed=0)
    return model


CASES = {
    # models
    "LinearRegression l2": (lambda: mm.models.LinearRegression(l2=-1.0), "l2"),
    "LinearRegression l2 str": (lambda: mm.models.LinearRegression(l2="big"), "l2"),
    "LogisticRegression l2": (lambda: mm.models.LogisticRegression(l2=float("nan")), "l2"),
    "LinearSVM C": (lambda: mm.models.LinearSVM(C=0.0), "C"),
    "LinearSVM C str": (lambda: mm.models.LinearSVM(C="1"), "C"),
    "MLP hidden": (lambda: mm.models.MLP(hidden=(0,)), "hidden"),
    "MLP activation": (lambda: mm.models.MLP(activation="nope"), "activation"),
    # training
    "fit epochs": (lambda: mm.fit(mm.models.LogisticRegression(), X, Y, epochs=-1), "epochs"),
    "fit epochs str": (lambda: mm.fit(mm.models.LogisticRegression(), X, Y, epochs="3"), "epochs"),
    "fit batch_size": (lambda: mm.fit(mm.models.LogisticRegression(), X, Y, batch_size=0), "batch_size"),
    "SGD lr": (lambda: mm.optim.SGD(lr=-0.1), "lr|learning rate"),
    "SGD lr str": (lambda: mm.optim.SGD(lr="fast"), "lr|learning rate"),
    "SGD momentum": (lambda: mm.optim.SGD(momentum=-0.5), "momentum"),
    "Adagrad lr_decay": (lambda: mm.optim.Adagrad(lr_decay=-1.0), "lr_decay"),
    "RMSprop alpha": (lambda: mm.optim.RMSprop(alpha=-0.1), "alpha"),
    "Adam betas": (lambda: mm.optim.Adam(betas=(1.5, 0.9)), "beta"),
    "Adam eps": (lambda: mm.optim.Adam(eps=-1e-8), "eps"),
    "AdamW weight_decay": (lambda: mm.optim.AdamW(weight_decay=-0.1), "weight_decay"),
    "StepLR step_size": (lambda: schedules.StepLR(_opt(), step_size=0), "step_size"),
    "StepLR step_size str": (lambda: schedules.StepLR(_opt(), step_size="2"), "step_size"),
    "ExponentialLR gamma": (lambda: schedules.ExponentialLR(_opt(), gamma="x"), "gamma"),
    "CosineAnnealingLR T_max": (lambda: schedules.CosineAnnealingLR(_opt(), T_max=0), "T_max"),
    "LinearWarmup warmup_steps": (lambda: schedules.LinearWarmup(_opt(), warmup_steps=-1), "warmup_steps"),
    "ReduceLROnPlateau factor": (lambda: schedules.ReduceLROnPlateau(_opt(), factor=1.5), "factor"),
    "ReduceLROnPlateau mode": (lambda: schedules.ReduceLROnPlateau(_opt(), mode="up"), "mode"),
    "EarlyStopping patience": (lambda: mm.callbacks.EarlyStopping(patience=-1), "patience"),
    "EarlyStopping min_delta": (lambda: mm.callbacks.EarlyStopping(min_delta="x"), "min_delta"),
    "Huber delta": (lambda: mm.losses.Huber(delta=0.0), "delta"),
    "Huber delta str": (lambda: mm.losses.Huber(delta="1"), "delta"),
    # data
    "train_test_split test_size": (lambda: mm.data.train_test_split(X, test_size=1.5), "test_size"),
    "KFold n_splits": (lambda: mm.data.KFold(n_splits=1), "n_splits"),
    "KFold n_splits str": (lambda: mm.data.KFold(n_splits="5"), "n_splits"),
    "StratifiedKFold n_splits": (lambda: mm.data.StratifiedKFold(n_splits=0), "n_splits"),
    "SimpleImputer strategy": (lambda: mm.data.SimpleImputer(strategy="mode"), "strategy"),
    # metrics
    "f1 average": (lambda: mm.metrics.f1(Y, Y, average="most"), "average"),
    "F1 average": (lambda: mm.metrics.F1(average="most"), "average"),
    "roc_auc multi_class": (lambda: mm.metrics.roc_auc(Y, X[:, 0], multi_class="all"), "multi_class"),
    # monitoring
    "psi bins": (lambda: mm.drift.psi(X[:, 0], X[:, 1], bins=0), "bins"),
    "Monitor threshold": (lambda: mm.Monitor(X, threshold=-0.1), "threshold"),
    # tuning and compression
    "RandomSearch n_iter": (
        lambda: mm.tuning.RandomSearch(mm.models.LogisticRegression, {"l2": [0.0]}, n_iter=0), "n_iter"),
    "GridSearch cv": (lambda: mm.tuning.GridSearch(mm.models.LogisticRegression, {"l2": [0.0]}, cv=1), "cv"),
    "prune sparsity": (lambda: mm.compress.prune(_fitted(), sparsity=1.5), "sparsity"),
    "quantize bits": (lambda: mm.compress.quantize(_fitted(), bits="8"), "bits"),
    "distill temperature": (
        lambda: mm.compress.distill(_fitted(), mm.models.LogisticRegression(), X, temperature=0.0), "temperature"),
}


def _reg():
    reg = mm.Registry(f"memory://invalid-args-{id(object())}")
    reg.register("lin", _fitted())
    return reg


SECOND_WAVE = {
    "alert_when for_": (lambda: mm.Monitor(X).alert_when("drift_share", ">", 0.5, for_=0), "for_"),
    "alert_when op": (lambda: mm.Monitor(X).alert_when("drift_share", "~", 0.5), "op"),
    "Monitor window": (lambda: mm.Monitor(X, window=0), "window"),
    "versions offset": (lambda: _reg().versions("lin", offset=-1), "offset"),
    "versions limit": (lambda: _reg().versions("lin", limit="3"), "limit"),
    "search_versions limit": (lambda: _reg().search_versions("", limit=-1), "limit"),
    "deploy port": (lambda: mm.deploy("lin", registry=_reg(), target="http", port=-1), "port"),
    "deploy max_batch_size": (lambda: mm.deploy("lin", registry=_reg(), max_batch_size=0), "max_batch_size"),
    "permutation_importance n_repeats": (
        lambda: mm.explain.permutation_importance(_fitted(), X, Y, n_repeats=0), "n_repeats"),
    "partial_dependence grid_resolution": (
        lambda: mm.explain.partial_dependence(_fitted(), X, 0, grid_resolution=1), "grid_resolution"),
    "OneHotEncoder handle_unknown": (lambda: mm.data.OneHotEncoder(handle_unknown="warn"), "handle_unknown"),
    "ColumnTransformer remainder": (
        lambda: mm.data.ColumnTransformer([("s", mm.data.StandardScaler(), [0])], remainder="keep"), "remainder"),
    "Clipper lower_quantile": (lambda: mm.data.Clipper(lower_quantile=2.0), "lower_quantile"),
    "brier_score_loss scale_by_half": (
        lambda: mm.metrics.brier_score_loss(Y, np.full(20, 0.5), scale_by_half="x"), "scale_by_half"),
    "classification_report digits": (lambda: mm.metrics.classification_report(Y, Y, digits=-1), "digits"),
    "roc_auc max_fpr": (lambda: mm.metrics.roc_auc(Y, X[:, 0], max_fpr=2.0), "max_fpr"),
    "MultiStepLR milestones": (lambda: schedules.MultiStepLR(_opt(), milestones=[3, "x"]), "milestones"),
    "OneCycleLR max_lr": (lambda: schedules.OneCycleLR(_opt(), max_lr=-1.0, total_steps=10), "max_lr"),
    "PolynomialLR total_iters": (lambda: schedules.PolynomialLR(_opt(), total_iters=0), "total_iters"),
    "CosineAnnealingWarmRestarts T_0": (lambda: schedules.CosineAnnealingWarmRestarts(_opt(), T_0=0), "T_0"),
    "SGD maximize": (lambda: mm.optim.SGD(maximize="yes"), "maximize"),
    "cross_validate cv": (lambda: mm.tuning.cross_validate(mm.models.LogisticRegression, X, Y, cv=1), "cv"),
    "HalvingSearch factor": (
        lambda: mm.tuning.HalvingSearch(mm.models.LogisticRegression, {"l2": [0.0]}, factor=1), "factor"),
    "evaluate metrics": (lambda: mm.evaluate(_fitted(), X, Y, metrics=42), "metrics"),
    "train_test_split seed": (lambda: mm.data.train_test_split(X, seed="x"), "seed"),
    "KFold shuffle": (lambda: mm.data.KFold(shuffle="yes"), "shuffle"),
    "quantize bits range": (lambda: mm.compress.quantize(_fitted(), bits=3), "bits"),
    "distill alpha": (lambda: mm.compress.distill(_fitted(), mm.models.LogisticRegression(), X, alpha=2.0), "alpha"),
    "LinearRegression solver": (lambda: mm.models.LinearRegression(solver="qr"), "solver"),
    "Registry require_signature": (lambda: mm.Registry("memory://x", require_signature="yes"), "require_signature"),
}


@pytest.mark.parametrize("case", sorted(CASES) + sorted(SECOND_WAVE))
def test_bad_number_raises_invalid_argument_naming_it(case):
    call, argument = CASES[case] if case in CASES else SECOND_WAVE[case]
    with pytest.raises(mm.InvalidArgumentError) as info:
        call()
    assert re.search(argument, str(info.value)), f"the message should name {argument!r}: {info.value}"


def test_invalid_argument_error_is_caught_as_value_and_type_error():
    assert issubclass(mm.InvalidArgumentError, (ValueError))
    assert issubclass(mm.InvalidArgumentError, TypeError)
    assert issubclass(mm.InvalidArgumentError, mm.ModelmgmtError)


def _registry(tmp_path):
    reg = mm.Registry(f"file://{tmp_path / 'reg'}")
    version = reg.register("lin", _fitted())
    reg.set_alias("lin", "prod", version.version)
    with reg.start_run("exp1"):
        pass
    return reg


UNKNOWN = {
    "metric": (lambda tmp: mm.metrics.get("nope"), "accuracy"),
    "store scheme": (lambda tmp: mm.Registry("nope://x"), "memory"),
    "deployer": (lambda tmp: mm.deploy("lin", registry=_registry(tmp), target="nope"), "inprocess"),
    "export format": (lambda tmp: mm.export(_fitted(), tmp / "x", format="nope"), "modelmgmt"),
    "experiment": (lambda tmp: _registry(tmp).runs("nope"), "exp1"),
    "alias": (lambda tmp: _registry(tmp).get("lin@nope"), "prod"),
}


@pytest.mark.parametrize("what", sorted(UNKNOWN))
def test_unknown_name_is_not_found_listing_known_names(what, tmp_path):
    call, known = UNKNOWN[what]
    with pytest.raises(mm.NotFoundError) as info:
        call(tmp_path)
    assert "nope" in str(info.value)
    assert known in str(info.value)
