"""Envoy's "no healthy upstream" reply carries what a service's own UNAVAILABLE carries: a
google.rpc.Status with ErrorInfo and RetryInfo (1 s) whose message is the reply's grpc-message."""

from __future__ import annotations

import base64

from google.rpc import error_details_pb2, status_pb2

from deploy.local import envoy_config


def test_unavailable_details_are_a_status_with_error_info_and_retry_info():
    """The header value decodes to UNAVAILABLE, BACKEND_UNAVAILABLE and a 1 s RetryInfo, message as sent."""
    status = status_pb2.Status.FromString(base64.b64decode(envoy_config.unavailable_details()))
    assert (status.code, status.message) == (14, envoy_config.UNAVAILABLE_MESSAGE)
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info) and status.details[1].Unpack(retry)
    assert (info.reason, info.domain) == ("BACKEND_UNAVAILABLE", "ai4vc")
    assert retry.retry_delay.seconds == 1


def test_template_maps_no_healthy_upstream():
    """The template's local reply maps no_healthy_upstream with the details header."""
    text = envoy_config.TEMPLATE.read_text()
    assert "response.code_details == 'no_healthy_upstream'" in text
    assert "{{ unavailable_details }}" in text and "{{ unavailable_message }}" in text
