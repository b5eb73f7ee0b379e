"""Submit gaps the mutation score found (`make mutants`, benchmarks/results/mutants.md): no
test submitted without `telephony_call_config` and read back the defaults, so a server
whose default ringing time was 59 s survived."""

import pytest


@pytest.mark.requirement("SUBMIT-4")
def test_an_omitted_telephony_config_reports_the_specs_defaults(client, api, submit_batch,
                                                                 numbers):
    """TelephonyCallConfig: ringing_timeout_secs defaults to 60, twilio_call_recording_enabled
    to false (vendor spec); a batch submitted without the object shows them."""
    batch = submit_batch(numbers.completing(1))
    config = batch.get("telephony_call_config")
    assert isinstance(config, dict), f"telephony_call_config is {config!r}"
    assert config.get("ringing_timeout_secs") == 60, config
    assert config.get("twilio_call_recording_enabled") is False, config
