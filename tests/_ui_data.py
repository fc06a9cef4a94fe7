"""A small registry with something on every UI page (models, aliases, runs, monitor report,
deployment history), plus hostile strings to check escaping. Shared by the UI tests."""

from __future__ import annotations

import warnings

import numpy as np

import modelmgmt as mm

XSS_SCRIPT = "<script>window.__mm_xss = 1; alert('xss')</script>"
XSS_IMG = "<img src=x onerror=\"window.__mm_xss = 2\">"
XSS_NAME = "<img src=x onerror=window.__mm_xss=3>"  # a valid model name (no '/')


def build(url: str, *, monitor: bool = True, **storage_options) -> dict:
    """Fill the registry at ``url``; returns the names and ids the tests look for."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    reg = mm.Registry(url, **storage_options)
    run_ids = []
    for i, l2 in enumerate((0.0, 0.01, 0.1)):
        with reg.start_run("churn-exp", params={"l2": l2, "note": XSS_SCRIPT},
                           tags={"owner": XSS_IMG}) as run:
            model = mm.models.LogisticRegression(l2=l2)
            with warnings.catch_warnings():  # a short fit on purpose: no convergence warning
                warnings.simplefilter("ignore")
                model.fit(X, y, epochs=12, seed=i, run=run, validation_data=(X[:60], y[:60]),
                          optimizer=mm.optim.Adam(lr=0.05))
            for step in range(500):
                run.log_metric("batch_loss", float(np.exp(-step / (60 + 40 * i)) + 0.05 * rng.random()), step=step)
            acc = mm.evaluate(model, X, y, metrics=("accuracy",))["accuracy"]
            run.log_metric("accuracy", acc)
        run_ids.append(run.id)
        reg.register("churn", model, params={"l2": l2}, metrics={"accuracy": acc, "loss": 0.5 - 0.1 * i},
                     tags={"stage": XSS_SCRIPT}, description=XSS_IMG, run=run)
    reg.set_alias("churn", "production", 1)
    reg.set_alias("churn", "production", 2)
    reg.set_alias("churn", "staging", 3)
    reg.rollback("churn", "production")
    reg.register(XSS_NAME, model, metrics={"accuracy": 0.5})
    if monitor:
        mon = mm.Monitor(X, feature_names=["f0", "f1", "f2", XSS_SCRIPT])
        live = X.copy()
        live[:, 0] += 2.0
        mon.observe(live)
        mon.save(reg, "churn/2")
    for event, version in (("deploy", 1), ("update", 2), ("rollback", 1)):
        reg.record_deployment("churn-api", {"event": event, "model": "churn", "version": version,
                                            "target": "http", "time": 1_764_000_000 + 60 * version})
    return {"registry": reg, "runs": run_ids, "model": "churn", "xss_model": XSS_NAME}


def build_showcase(url: str) -> dict:
    """A registry that looks like real work, for the screenshots in docs/ui.md: a grid search
    of eight runs, a model with ten versions and moved aliases, a drifted monitor report and a
    deployment history."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 6))
    y = (X[:, 0] - 0.7 * X[:, 1] + 0.4 * X[:, 2] + rng.normal(0, 0.8, 600) > 0).astype(int)
    reg = mm.Registry(url)
    runs, best = [], None
    for i, (lr, l2) in enumerate([(lr, l2) for lr in (0.003, 0.01, 0.03, 0.1) for l2 in (0.0, 0.01)]):
        with reg.start_run("churn-grid", params={"lr": lr, "l2": l2, "optimizer": "Adam"},
                           tags={"team": "growth"}) as run:
            model = mm.models.LogisticRegression(l2=l2)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X[:450], y[:450], epochs=30, seed=i, run=run, batch_size=32,
                          validation_data=(X[450:], y[450:]), optimizer=mm.optim.Adam(lr=lr))
            scores = mm.evaluate(model, X[450:], y[450:], metrics=("accuracy", "f1", "roc_auc"))
            run.log_metrics(scores)
        runs.append(run.id)
        if best is None or scores["accuracy"] > best[0]:
            best = (scores["accuracy"], model, run, scores)
    for v in range(1, 11):
        scores = {k: float(np.clip(val - 0.04 + 0.006 * v + rng.normal(0, 0.004), 0, 1))
                  for k, val in best[3].items()}
        reg.register("churn", best[1], params={"lr": 0.03, "l2": 0.01}, metrics=scores,
                     tags={"dataset": f"2026-11-{10 + v:02d}"}, run=best[2] if v == 10 else None,
                     description="logistic regression on the weekly churn extract")
        if v in (2, 5, 8):
            reg.set_alias("churn", "production", v)
        if v in (6, 9, 10):
            reg.set_alias("churn", "staging", v)
    reg.rollback("churn", "production")
    fraud = mm.models.LogisticRegression()
    fraud.fit(X, 1 - y)
    reg.register("fraud", fraud, metrics={"accuracy": 0.91, "f1": 0.88})
    for name, acc in (("credit-risk", 0.87), ("lifetime-value", 0.79), ("upsell", 0.84)):
        for k in range(3):
            reg.register(name, fraud, metrics={"accuracy": acc + 0.01 * k, "f1": acc - 0.02 + 0.01 * k})
        reg.set_alias(name, "production", 2)
    names = ["tenure", "monthly_fee", "support_calls", "usage_gb", "discount", "age"]
    mon = mm.Monitor(X[:450], feature_names=names)
    live = X[450:].copy()
    live[:, 1] = live[:, 1] * 1.6 + 0.8
    live[:, 3] += 0.9
    mon.observe(live, y_pred=best[1].predict(live), y_true=y[450:])
    mon.save(reg, "churn/5")
    t0 = 1_764_570_000
    for k, (event, version) in enumerate((("deploy", 2), ("update", 5), ("update", 8), ("rollback", 5))):
        reg.record_deployment("churn-api", {"event": event, "model": "churn", "version": version,
                                            "target": "http", "time": t0 + 86400 * k, "host": "srv-1"})
    return {"registry": reg, "runs": runs}
