"""The ``sagerun_runtime`` / ``sagerun_client`` pytest plugin, exercised as
users meet it: a test file run by pytest (``pytester``), the plugin found
through its ``pytest11`` entry point, boto3 pointed at the fixture's runtime
getting the declared behaviour."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import EventStreamError

import sagerun

NO_RETRIES = Config(retries={"total_max_attempts": 1})
seen = []


def boto(rt, config=NO_RETRIES):
    return boto3.client("sagemaker-runtime", config=config, **rt.client_kwargs())


def test_default_is_one_echo_endpoint(sagerun_runtime):
    seen.append(sagerun_runtime)
    client = boto(sagerun_runtime)
    r = client.invoke_endpoint(EndpointName="echo", Body=b"hello", ContentType="text/plain")
    assert (r["Body"].read(), r["ContentType"]) == (b"hello", "text/plain")
    with pytest.raises(client.exceptions.ValidationError):
        client.invoke_endpoint(EndpointName="other", Body=b"x")


def test_the_runtime_was_stopped_after_its_test():
    assert len(seen) == 1 and not seen[0].running


@pytest.mark.sagerun_endpoints({"broken": {"model": "error", "code": "ModelError",
                                           "original_status": 503, "original_message": "boom"}})
def test_marker_declares_the_endpoints(sagerun_runtime):
    client = boto(sagerun_runtime)
    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(EndpointName="broken", Body=b"{}")
    assert caught.value.response["OriginalStatusCode"] == 503
    assert caught.value.response["OriginalMessage"] == "boom"
    with pytest.raises(client.exceptions.ValidationError):
        client.invoke_endpoint(EndpointName="echo", Body=b"x")  # no default beside a marker


@pytest.mark.sagerun_endpoints({"open": {"model": "echo"}}, verify_signatures=False)
def test_marker_keywords_go_to_the_runtime(sagerun_runtime):
    unsigned = boto(sagerun_runtime, Config(signature_version=UNSIGNED))
    assert unsigned.invoke_endpoint(EndpointName="open", Body=b"u")["Body"].read() == b"u"


@pytest.mark.parametrize("sagerun_runtime", [
    {"ep": {"model": "tokens", "text": "x y z", "parts": 3}},
    {"ep": {"model": "tokens", "text": "x y z", "parts": 3, "faults": {"stream_error_after": 1}}},
], indirect=True, ids=["whole", "cut"])
def test_indirect_parametrisation(sagerun_runtime, request):
    declaration = request.node.callspec.params["sagerun_runtime"]["ep"]
    stream = boto(sagerun_runtime).invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
    parts = []
    if "faults" in declaration:
        with pytest.raises(EventStreamError):
            for event in stream["Body"]:
                parts.append(event["PayloadPart"]["Bytes"])
        assert parts == [b"x"]
    else:
        parts = [event["PayloadPart"]["Bytes"] for event in stream["Body"]]
        assert b"".join(parts) == b"x y z" and len(parts) == 3


@pytest.mark.sagerun_endpoints({"ignored": {"model": "echo"}})
@pytest.mark.parametrize("sagerun_runtime", [{"chosen": {"model": "echo"}}], indirect=True)
def test_parametrisation_wins_over_a_marker(sagerun_runtime):
    client = boto(sagerun_runtime)
    assert client.invoke_endpoint(EndpointName="chosen", Body=b"c")["Body"].read() == b"c"
    with pytest.raises(client.exceptions.ValidationError):
        client.invoke_endpoint(EndpointName="ignored", Body=b"x")


@pytest.mark.sagerun_endpoints({"llm": {"model": "tokens", "text": "a b", "parts": 2}})
def test_sagerun_client_is_bound_to_the_runtime(sagerun_client, sagerun_runtime):
    assert isinstance(sagerun_client, sagerun.Client)
    stream = sagerun_client.invoke_endpoint_with_response_stream(EndpointName="llm", Body=b"{}")
    mine = [e["PayloadPart"]["Bytes"] for e in stream["Body"]]
    theirs = [e["PayloadPart"]["Bytes"] for e in
              boto(sagerun_runtime).invoke_endpoint_with_response_stream(EndpointName="llm",
                                                                         Body=b"{}")["Body"]]
    assert mine == theirs == [b"a", b" b"]
'''


def test_user_suite_passes_through_the_entry_point(pytester):
    """In a child process, so the plugin can only come from its entry point;
    --strict-markers proves the marker is registered."""
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=8)


def test_wrong_expectations_fail(pytester):
    """The fixtures serve what was declared, so a test expecting otherwise fails."""
    pytester.makepyfile(test_wrong=textwrap.dedent('''
        import boto3, pytest

        @pytest.mark.sagerun_endpoints({"broken": {"model": "error", "code": "ModelError"}})
        def test_expects_success(sagerun_runtime):
            client = boto3.client("sagemaker-runtime", **sagerun_runtime.client_kwargs())
            client.invoke_endpoint(EndpointName="broken", Body=b"{}")

        def test_expects_another_default(sagerun_client):
            sagerun_client.invoke_endpoint(EndpointName="my-model", Body=b"{}")
    '''))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*ModelError*", "*Endpoint my-model of account * not found*"])


def test_bad_declarations_are_setup_errors_with_a_reason(pytester):
    pytester.makepyfile(test_bad=textwrap.dedent('''
        import pytest

        @pytest.mark.sagerun_endpoints("echo")
        def test_marker_not_a_mapping(sagerun_runtime):
            pass

        @pytest.mark.parametrize("sagerun_runtime", [["echo"]], indirect=True)
        def test_param_not_a_mapping(sagerun_runtime):
            pass

        @pytest.mark.sagerun_endpoints({"x": {"model": "no-such-model"}})
        def test_unknown_model(sagerun_runtime):
            pass
    '''))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([
        "*sagerun_endpoints takes one mapping of endpoint name -> declaration*",
        "*indirect parameter of sagerun_runtime must be a mapping*",
        "*no-such-model*",
    ])


@pytest.mark.sagerun_endpoints({"here": {"model": "echo"}})
def test_the_plugin_in_our_own_suite(sagerun_client):
    """Our run loads the plugin too; its fixtures sit beside conftest's."""
    assert sagerun_client.invoke_endpoint(EndpointName="here", Body=b"ours")["Body"].read() == b"ours"
