"""The end-to-end example behind `make demo`: every lifecycle stage on a local file:// store."""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request
from typing import TextIO

import numpy as np

import modelmgmt as mm
from modelmgmt.data import SimpleImputer, StandardScaler, train_test_split
from modelmgmt.models import MLP, LogisticRegression, Pipeline


def make_data(n: int = 2000, n_features: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian classes with 2 % missing values: data that needs cleaning."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    centers = rng.normal(0.0, 1.0, (2, n_features))
    X = centers[y] + rng.normal(0.0, 2.0, (n, n_features))
    X[rng.random(X.shape) < 0.02] = np.nan
    return X, y


def main(keep: bool = False, out: TextIO | None = None) -> None:
    """Run train → evaluate → tune → compress → register → deploy → monitor → roll back, then
    write the drift report as HTML and print the ``modelmgmt ui`` command for the registry
    (which is kept, so that command works)."""
    out = out if out is not None else sys.stdout

    def say(msg: str) -> None:
        print(msg, file=out, flush=True)

    root = tempfile.mkdtemp(prefix="modelmgmt-demo-")
    reg = mm.Registry(f"file://{root}")
    say(f"registry: file://{root}")

    # 1. data: split, impute missing values, scale
    X, y = make_data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0, stratify=y)
    say(f"data: {len(X_train)} train / {len(X_test)} test rows, {int(np.isnan(X).sum())} missing values")

    # 2. tune the regularisation with 3-fold cross-validation, then train the best
    def factory(l2: float = 0.0) -> Pipeline:
        return Pipeline([SimpleImputer(), StandardScaler(), LogisticRegression(l2=l2)])

    search = mm.tuning.GridSearch(
        factory, {"l2": [0.0, 1e-2, 1e-1]}, cv=3, scoring="accuracy",
        fit_params={"epochs": 5, "seed": 0},
    ).fit(X_train, y_train)
    say(f"tune: best {search.best_params} (cv accuracy {search.best_score:.3f})")

    with reg.start_run("demo", params=search.best_params) as run:
        model = factory(**search.best_params)
        history = model.fit(
            X_train, y_train, epochs=20, seed=0, run=run,
            validation_data=(X_test, y_test),
            callbacks=[mm.callbacks.EarlyStopping(patience=3)],
        )
        scores = mm.evaluate(model, X_test, y_test, metrics=("accuracy", "f1", "roc_auc"))
        run.log_metrics(scores)
    say(f"train: {len(history.history['loss'])} epochs, test {json.dumps({k: round(v, 3) for k, v in scores.items()})}")

    # 3. version it and point the production alias at it
    v1 = reg.register("churn", model, params=search.best_params, metrics=scores, run=run)
    reg.set_alias("churn", "production", v1.version)
    say(f"register: churn/{v1.version} digest {v1.digest[:12]}, alias production -> {v1.version}")

    # 4. a second candidate: a small network, compressed to int8
    mlp = Pipeline([SimpleImputer(), StandardScaler(), MLP(hidden=(32,))])
    mlp.fit(X_train, y_train, epochs=10, seed=0)
    v2 = reg.register("churn", mlp, metrics=mm.evaluate(mlp, X_test, y_test, metrics=("accuracy",)))
    say(f"register: churn/{v2.version} (MLP) accuracy {v2.metrics['accuracy']:.3f}")
    diff = reg.diff("churn/1", "churn/2")
    say(f"diff churn/1 churn/2: config keys changed {sorted(diff['config']['changed'])}, "
        f"{len(diff['tensors']['added'])} tensors added, {len(diff['tensors']['removed'])} removed")

    # 5. deploy over HTTP, swap to v2 with no downtime, roll back
    with mm.deploy("churn@production", registry=reg, target="http") as dep:
        body = json.dumps({"inputs": np.nan_to_num(X_test[:3]).tolist()}).encode()
        req = urllib.request.Request(f"{dep.url}/invocations", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            say(f"deploy: {dep.url} serves churn/{dep.version.version}; predictions {json.loads(resp.read())['predictions']}")
        dep.update("churn/2")
        say(f"update: now serving churn/{dep.version.version}")
        dep.rollback()
        say(f"rollback: back to churn/{dep.version.version}")

    # 6. monitor: the live data drifts in two features
    # missing values are counted, not compared; a KS test at p < 0.01 keeps false alarms rare
    monitor = mm.Monitor(X_train, tests={i: "ks" for i in range(X.shape[1])}, threshold=0.01)
    live = X_test.copy()
    live[:, :2] += 3.0
    monitor.observe(live, y_pred=model.predict(live), y_true=y_test)
    report = monitor.report()
    drifted = report.drifted_features
    say(f"monitor: drift share {report.drift_share:.2f}, drifted features {drifted}, "
        f"live accuracy {report.performance['accuracy']:.3f}")

    # 7. the alias history allows a rollback of the registry too
    reg.set_alias("churn", "production", v2.version)
    back = reg.rollback("churn", "production")
    say(f"registry rollback: production -> {back.version}; verify: {reg.verify('churn@production').version} ok")

    # 8. look at it: the drift report as one self-contained HTML file, and the web UI
    monitor.save(reg, f"churn/{back.version}")
    report_path = f"{root}-drift-report.html"
    with open(report_path, "w", encoding="utf-8") as f:
        f.write(report.to_html())
    say(f"report: {report_path} (open it in a browser)")
    say(f"ui: modelmgmt ui --registry file://{root}")
    if keep:  # the registry stays either way, for the ui command above
        say(f"kept: {root}")
    say("demo finished")
