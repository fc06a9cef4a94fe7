"""A small registry with something on every UI page (models, aliases, runs, monitor report,
deployment history), plus hostile strings to check escaping. Shared by the UI tests."""

from __future__ import annotations

import warnings

import numpy as np

import modelmgmt as mm

XSS_SCRIPT = "<script>window.__mm_xss = 1; alert('xss')</script>"
XSS_IMG = "<img src=x onerror=\"window.__mm_xss = 2\">"
XSS_NAME = "<img src=x onerror=window.__mm_xss=3>"  # a valid model name (no '/')


def build(url: str, *, monitor: bool = True) -> dict:
    """Fill the registry at ``url``; returns the names and ids the tests look for."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    reg = mm.Registry(url)
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
