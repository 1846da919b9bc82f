"""A Quart app ports by changing imports: every public name Quart exports exists here."""

from __future__ import annotations

import trioquart
import trioquart.testing

# The names ``quart`` (0.22) exports at top level, ``Quart`` being ``TrioQuart`` here.
QUART_NAMES = """
    Blueprint Config Markup Request Response ResponseReturnValue Websocket abort
    after_this_request appcontext_popped appcontext_pushed appcontext_tearing_down
    before_render_template copy_current_app_context copy_current_request_context
    copy_current_websocket_context current_app escape flash g get_flashed_messages
    get_template_attribute got_request_exception got_websocket_exception has_app_context
    has_request_context has_websocket_context jsonify make_push_promise make_response
    message_flashed redirect render_template render_template_string request
    request_finished request_started request_tearing_down send_file send_from_directory
    session signals_available stream_template stream_template_string stream_with_context
    template_rendered url_for websocket websocket_finished websocket_started
    websocket_tearing_down
""".split()


def test_every_quart_name_exists() -> None:
    missing = [name for name in QUART_NAMES if not hasattr(trioquart, name)]
    assert missing == []
    assert trioquart.TrioQuart.__name__ == "TrioQuart"


def test_all_lists_only_real_names() -> None:
    assert [name for name in trioquart.__all__ if not hasattr(trioquart, name)] == []
    assert set(QUART_NAMES) <= set(trioquart.__all__)


def test_testing_has_quarts_names() -> None:
    assert trioquart.testing.WebsocketResponseError.__name__ == "WebsocketResponseError"
    assert trioquart.testing.TestApp.__name__ == "TestApp"
