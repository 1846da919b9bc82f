"""Class-based views: :class:`View` and :class:`MethodView`, as in Flask but awaited.

.. code-block:: python

    class UserAPI(MethodView):
        decorators = [login_required]

        async def get(self, user_id):
            return await load_user(user_id)

        async def delete(self, user_id):
            await remove_user(user_id)
            return "", 204

    app.add_url_rule("/users/<int:user_id>", view_func=UserAPI.as_view("user"))

``dispatch_request`` and the method handlers may be ``async def`` or plain functions; a
plain one runs in a worker thread (``app.ensure_async``), as a sync view function does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, ClassVar

from werkzeug.exceptions import MethodNotAllowed

from .globals import current_app, request

if TYPE_CHECKING:
    from flask.typing import RouteCallable

    from .typing import ResponseReturnValue

__all__ = ["MethodView", "View", "http_method_funcs"]

#: The instance methods :class:`MethodView` dispatches to, by request method.
http_method_funcs = frozenset(("get", "post", "head", "options", "delete", "put", "trace", "patch"))


class View(ABC):
    """A view as a class: subclass it, implement :meth:`dispatch_request` and register
    ``YourView.as_view("endpoint")`` as the view function.

    Class attributes shape the view function :meth:`as_view` makes:

    - :attr:`methods`: the HTTP methods the route accepts (as ``methods=`` of a route);
    - :attr:`provide_automatic_options`: whether OPTIONS is answered automatically;
    - :attr:`decorators`: decorators applied to the view function, first one innermost
      (decorating the class itself would not affect the view function);
    - :attr:`init_every_request`: a new instance per request (the default), so ``self``
      may hold per-request state; False builds one instance for all requests, which is
      cheaper but shared between concurrent requests.
    """

    methods: ClassVar[Collection[str] | None] = None
    provide_automatic_options: ClassVar[bool | None] = None
    decorators: ClassVar[list[Callable[..., Any]]] = []
    init_every_request: ClassVar[bool] = True

    @abstractmethod
    async def dispatch_request(self, *args: Any, **kwargs: Any) -> ResponseReturnValue:
        """Handle the request and return a response value (as a view function does). The
        URL rule's variables come as keyword arguments; declare the ones you expect
        (``async def dispatch_request(self, user_id): ...``)."""

    @classmethod
    def as_view(cls, name: str, *class_args: Any, **class_kwargs: Any) -> RouteCallable:
        """A view function for this class, to register under the endpoint ``name``.

        ``class_args`` and ``class_kwargs`` are passed to the class when an instance is
        made: for every request, or once here if :attr:`init_every_request` is False.
        The function's ``view_class`` attribute is the class.
        """
        view: Any
        if cls.init_every_request:

            async def view(**kwargs: Any) -> ResponseReturnValue:
                # Looked up on the (decorated) view function at call time, as Flask does.
                instance = view.view_class(*class_args, **class_kwargs)
                return await current_app.ensure_async(instance.dispatch_request)(**kwargs)

        else:
            shared = cls(*class_args, **class_kwargs)

            async def view(**kwargs: Any) -> ResponseReturnValue:
                return await current_app.ensure_async(shared.dispatch_request)(**kwargs)

        if cls.decorators:
            # Decorators that copy the name (functools.wraps) should see the real one.
            view.__name__ = name
            view.__module__ = cls.__module__
            for decorator in cls.decorators:
                view = decorator(view)
        view.view_class = cls
        view.__name__ = name
        view.__doc__ = cls.__doc__
        view.__module__ = cls.__module__
        view.methods = cls.methods
        view.provide_automatic_options = cls.provide_automatic_options
        return view


class MethodView(View):
    """A view that calls the instance method named after the request method: ``get``
    for GET, ``post`` for POST and so on. HEAD falls back to ``get``.

    :attr:`~View.methods` is worked out from the handlers the class (and its bases)
    define, unless the class sets it. A request whose method the route allows but the
    class does not handle is answered with 405.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:
            return  # set explicitly on this class
        found: set[str] = set()
        for base in cls.__bases__:
            found.update(getattr(base, "methods", None) or ())
        found.update(name.upper() for name in http_method_funcs if hasattr(cls, name))
        if found:
            cls.methods = found

    async def dispatch_request(self, **kwargs: Any) -> ResponseReturnValue:
        method = request.method
        handler = getattr(self, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(self, "get", None)
        if handler is None:
            implemented = sorted(name.upper() for name in http_method_funcs if hasattr(self, name))
            raise MethodNotAllowed(valid_methods=implemented)
        return await current_app.ensure_async(handler)(**kwargs)
