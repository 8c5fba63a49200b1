"""Units of the edge: the basic-auth hashes, the template rule, the JSON log formatter, the
shared metrics, the request-id header of the fast publish path."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError

from gateway.services.publish import REQUEST_ID_HEADER, celery_message
from infra import htpasswd, nginx_conf
from tasks import metrics
from tasks.logs import BatchingStreamHandler, JsonFormatter, mask_secrets, request_id_var
from tasks.settings import Settings
from tests.support.servers import RedisServer, wait_until


@pytest.mark.parametrize(("password", "salt", "expected"), [
    # Made with `openssl passwd -apr1 -salt SALT PASSWORD`.
    ("secret", "abcdefgh", "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"),
    ("", "12345678", "$apr1$12345678$sHuPAw7VA9xjRbJz7zKV7/"),
    ("a" * 40, "xyZ./123", "$apr1$xyZ./123$I2L6IjGAxumTJ2iQLjkeF/"),
    ("pässword", "Qq9.Qq9.", "$apr1$Qq9.Qq9.$yvRXQJwiGzEuvC3OLCNuQ0"),
])
def test_apr1_matches_openssl(password: str, salt: str, expected: str) -> None:
    assert htpasswd.apr1(password, salt) == expected


def test_apr1_salts_differ() -> None:
    assert htpasswd.apr1("pw") != htpasswd.apr1("pw")


def test_htpasswd_file(tmp_path: Path) -> None:
    target = tmp_path / "auth" / "htpasswd"
    htpasswd.write(target, "ann:pw:with:colons,bob:x")
    lines = target.read_text().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["ann", "bob"]
    salt = lines[0].split("$")[2]
    assert lines[0] == "ann:" + htpasswd.apr1("pw:with:colons", salt)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "pw:with" not in target.read_text()
    with pytest.raises(ValueError, match="empty"):
        htpasswd.write(target, "")


@pytest.mark.parametrize("value", ["admin", "admin:", ":pw", "a b:pw", "a:pw\nb:pw2",
                                   "ok:pw,bad"])
def test_flower_basic_auth_must_be_user_password_pairs(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, flower_basic_auth=value)
    assert "pw" not in str(info.value).replace("password", "")  # never echoes the value


def test_flower_basic_auth_accepts_pairs_and_hides_them() -> None:
    settings = Settings(_env_file=None, flower_basic_auth="a:p1,b:p:2")
    assert settings.flower_basic_auth.get_secret_value() == "a:p1,b:p:2"
    assert "p1" not in repr(settings) and "p1" not in str(settings.model_dump())


def test_render_substitutes_only_defined_filtered_variables() -> None:
    template = "a ${GATEWAY_UPSTREAM} b $GATEWAY_UPSTREAM c ${FLOWER_UPSTREAM} d $host " \
               "e ${HOME} f $GATEWAY_UPSTREAMS g ${request_id}"
    env = {"GATEWAY_UPSTREAM": "gw:1", "HOME": "/root", "host": "nope"}
    out = nginx_conf.render(template, env)
    assert out == ("a gw:1 b gw:1 c ${FLOWER_UPSTREAM} d $host e ${HOME} "
                   "f $GATEWAY_UPSTREAMS g ${request_id}")
    with pytest.raises(ValueError, match="FLOWER_UPSTREAM"):
        nginx_conf.check_rendered(out)
    # Without a filter every defined variable counts, as in the image by default.
    assert nginx_conf.render("${HOME}", env, "") == "/root"


def test_the_template_uses_exactly_the_documented_variables() -> None:
    text = nginx_conf.TEMPLATE.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert set(nginx_conf._PLACEHOLDER.findall(body)) == set(nginx_conf.TEMPLATE_VARIABLES)


def test_json_formatter_fields_request_id_and_masking() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("gateway.x", logging.INFO, __file__, 1,
                               "connect to %s", ("redis://:hunter2@h:6379/0",), None)
    record.job_id = "j1"
    token = request_id_var.set("rid-1")
    try:
        line = json.loads(formatter.format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "connect to redis://:***@h:6379/0"
    assert line["job_id"] == "j1" and line["request_id"] == "rid-1"
    assert line["level"] == "INFO" and line["logger"] == "gateway.x"
    assert "hunter2" not in formatter.format(record)


def test_json_formatter_masks_exceptions() -> None:
    try:
        raise RuntimeError("cannot reach amqp://guest:s3cret@host//")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (),
                                   sys.exc_info())
    text = JsonFormatter().format(record)
    assert "s3cret" not in text and "amqp://guest:***@host//" in text


def test_mask_secrets_leaves_plain_text() -> None:
    assert mask_secrets("user@example.com at 10:30") == "user@example.com at 10:30"


def test_shared_metrics_round_trip_through_real_redis(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.delete(*[m.key for m in metrics.SHARED_METRICS])
    metrics.record(client,
                   metrics.JOBS_FINISHED.inc("f|x", "SUCCEEDED"),
                   metrics.JOBS_FINISHED.inc("f|x", "SUCCEEDED"),
                   metrics.JOB_RUN_SECONDS.observe(0.3, "f|x"),
                   metrics.JOB_RUN_SECONDS.observe(7, "f|x"),
                   metrics.JOB_RUN_SECONDS.observe(10_000, "f|x"))
    snapshot = [client.hgetall(m.key) for m in metrics.SHARED_METRICS]
    registry = CollectorRegistry()

    class Snapshot:
        def collect(self):
            return metrics.families(snapshot)

    registry.register(Snapshot())
    text = generate_latest(registry).decode()
    assert 'gateway_jobs_finished_total{function="f_x",status="SUCCEEDED"} 2.0' in text
    assert 'gateway_job_run_seconds_bucket{function="f_x",le="0.25"} 0.0' in text
    assert 'gateway_job_run_seconds_bucket{function="f_x",le="0.5"} 1.0' in text
    assert 'gateway_job_run_seconds_bucket{function="f_x",le="10.0"} 2.0' in text
    assert 'gateway_job_run_seconds_bucket{function="f_x",le="+Inf"} 3.0' in text
    assert 'gateway_job_run_seconds_count{function="f_x"} 3.0' in text
    assert 'gateway_job_run_seconds_sum{function="f_x"} 10007.3' in text


def test_metric_label_count_is_checked() -> None:
    with pytest.raises(ValueError):
        metrics.JOBS_FINISHED.inc("only-one")


def test_fast_path_request_id_header_matches_send_task(redis_server: RedisServer) -> None:
    app = Celery("probe", broker=redis_server.url)
    app.conf.update(task_serializer="json", task_default_queue="rid-probe")
    job_id = "2f0c7f3e-7d1b-4a8e-9a7e-1d2b3c4d5e6f"
    app.send_task("sum_to_n_job", kwargs={"number": 1}, task_id=job_id,
                  headers={REQUEST_ID_HEADER: "rid-42"})
    written = json.loads(redis_server.client().rpop("rid-probe"))
    ours = json.loads(celery_message("sum_to_n_job", job_id, {"number": 1}, "rid-probe",
                                     request_id="rid-42"))
    assert written["headers"][REQUEST_ID_HEADER] == ours["headers"][REQUEST_ID_HEADER]
    assert json.loads(base64.b64decode(ours["body"]))[1] == {"number": 1}
    without = json.loads(celery_message("sum_to_n_job", job_id, {"number": 1}, "q"))
    assert REQUEST_ID_HEADER not in without["headers"]


def test_local_nginx_config_is_private_to_nginx(tmp_path: Path) -> None:
    runtime = tmp_path / "nginx"
    nginx_conf.write_local(runtime, {name: "127.0.0.1:1" for name in (
        "GATEWAY_UPSTREAM", "FLOWER_UPSTREAM", "LOCUST_UPSTREAM", "NGINX_LISTEN")} | {
        "NGINX_MAX_BODY_BYTES": "1000", "NGINX_ACCESS_LOG": "logs/access.log"}, "u:p")
    mode = stat.S_IMODE((runtime / nginx_conf.AUTH_FILE).stat().st_mode)
    assert mode in (0o600, 0o640)  # 0o640 with nginx's worker group when run as root
    assert mode & 0o007 == 0
    main = (runtime / "nginx.conf").read_text()
    assert "include gateway.conf;" in main and "pid nginx.pid;" in main
    if os.geteuid() != 0:
        assert "user " not in main


def test_render_equals_the_official_images_envsubst_step() -> None:
    """The image's 20-envsubst-on-templates.sh: awk lists the variables matching the
    filter, envsubst substitutes those. Ours must give the same text, byte for byte."""
    if shutil.which("envsubst") is None:
        pytest.skip("envsubst (Debian's gettext-base) is not installed; `make test` installs "
                    "it where it can")
    env = {"GATEWAY_UPSTREAM": "gateway:8000", "FLOWER_UPSTREAM": "flower:5555",
           "LOCUST_UPSTREAM": "locust:8089", "NGINX_LISTEN": "80",
           "NGINX_MAX_BODY_BYTES": "65536", "NGINX_ACCESS_LOG": "/dev/stdout",
           "HOME": "/root", "NGINX_ENVSUBST_FILTER": nginx_conf.ENVSUBST_FILTER}
    script = ('filter="${NGINX_ENVSUBST_FILTER:-}"; defined_envs=$(printf \'${%s} \' '
              '$(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name '
              ': \\"\\" } }" </dev/null)); envsubst "$defined_envs"')
    image = subprocess.run(["sh", "-c", script], input=nginx_conf.TEMPLATE.read_text(),
                           env=env, capture_output=True, text=True, check=True).stdout
    ours = nginx_conf.render(nginx_conf.TEMPLATE.read_text(), env)
    assert ours == image
    nginx_conf.check_rendered(ours)


def test_log_lines_are_written_in_batches_and_warnings_at_once() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.batching")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    logger.info("one")
    logger.info("two")
    assert stream.getvalue() == ""  # buffered...
    logger.warning("three")  # ...until a warning, which keeps the order
    assert stream.getvalue() == "INFO one\nINFO two\nWARNING three\n"
    logger.info("four")
    wait_until(lambda: stream.getvalue().endswith("INFO four\n"), 5, "the timed flush")
    for n in range(BatchingStreamHandler.MAX_LINES):
        logger.info("line %s", n)
    assert f"INFO line {BatchingStreamHandler.MAX_LINES - 1}\n" in stream.getvalue()
