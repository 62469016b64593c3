"""Calling a compiled kernel through its address, so that a parallel entry does not compile it again.

Numba links the code of every compiled function a jitted function calls into the caller, and optimises
and emits the whole again there. A parallel entry that runs a row kernel per unit therefore compiled
the row kernel (with everything it calls) a second time, inside the parfor's gufunc: about 2.3 s of
the README pipeline's first call for the int16 bilinear warp. :func:`call_address` calls the row
kernel's C entry (numba's cfunc wrapper) through a pointer instead, given at run time by the Python
caller (:func:`address`): nothing is linked, and the parallel entry's own code is a loop and a call.

Conventions
-----------
* ``call_address(kernel, addr, args)``: ``kernel`` is the dispatcher (a global of the calling
  function, used for typing only: the call is resolved, and compiled if needed, for the unliteral
  types of ``args``, a tuple), ``addr`` the integer address :func:`address` returned for those types.
  The kernel returns nothing and raises nothing (a row kernel: its inputs are checked in Python).
* :func:`address` compiles the kernel for the types of ``sample`` (the arguments of one call, as the
  serial path passes them) and caches the address under ``key``, which must determine those types
  (dtype, writeable and aligned flags of the arrays the caller passes through). The address is the
  pointer of code in this process; a forked child inherits it, a spawned one looks it up again.
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["address", "call_address"]

_ADDRESSES: dict = {}


@intrinsic
def call_address(typingctx, kernel, addr, args):  # pragma: no cover - numba typing and lowering
    """Call ``kernel``'s compiled entry at ``addr`` with the tuple ``args`` (see the module docstring)."""
    if not isinstance(kernel, types.Dispatcher) or not isinstance(args, types.BaseTuple) \
            or not isinstance(addr, types.Integer):
        return None
    argtys = tuple(types.unliteral(t) for t in args.types)
    target = kernel.get_call_type(typingctx, argtys, {})  # the overload address() finds for these types

    def codegen(context, builder, sig, llargs):
        _, a, tup = llargs
        vals = [context.cast(builder, builder.extract_value(tup, i), args.types[i], target.args[i])
                for i in range(len(argtys))]
        fnty = ir.FunctionType(context.get_value_type(target.return_type),
                               [context.get_value_type(t) for t in target.args])
        builder.call(builder.inttoptr(a, fnty.as_pointer()), vals)
        return context.get_dummy_value()

    return types.none(kernel, addr, args), codegen


def address(kernel, key: tuple, sample: Callable[[], tuple]) -> int:
    """The address of ``kernel``'s C entry for the types of ``sample``, cached under ``(kernel, key)``.

    Parameters
    ----------
    kernel : numba dispatcher
        A row kernel that returns nothing.
    key : tuple
        Hashable; must determine the numba types of ``sample`` (see the module docstring).
    sample : callable
        Returns the arguments of one call of ``kernel``, as the serial path passes them (called on a miss).
    """
    k = (kernel, key)
    addr = _ADDRESSES.get(k)
    if addr is None:
        sig = tuple(types.unliteral(nb.typeof(v)) for v in sample())
        kernel.compile(sig)
        cres = kernel.overloads[sig]
        addr = _ADDRESSES[k] = cres.library.get_pointer_to_function(cres.fndesc.llvm_cfunc_wrapper_name)
    return addr
