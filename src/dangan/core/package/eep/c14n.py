"""Exclusive XML Canonicalization 1.0 (without comments) of one element subtree, as a stream of events.

The EEP signature covers the canonical form of 被签名对象, which may hold gigabytes of Base64. Neither
side can build that subtree in memory, so both use this one class: the writer feeds it the events of
what it writes (and writes the very bytes it produces), the verifier feeds it the parser's events.
Feeding the same infoset gives the same bytes whatever the file's original serialisation was.

Rules implemented (W3C Exc-C14N §3 on top of C14N 1.0 §2), for a document subset that is one element
(the *apex*) with all its descendants, no InclusiveNamespaces prefix list:

* no XML declaration, no DTD; comments dropped; processing instructions kept as ``<?target data?>``;
* elements as start and end tag (never ``<a/>``), with their prefixes as written;
* a namespace declaration is output on an element only if the element or one of its attributes
  *visibly uses* its prefix and the nearest output ancestor did not already output the same binding;
  ``xmlns=""`` only when an element in no namespace sits below an output default namespace;
* declarations sorted by prefix (default first), then attributes sorted by (namespace URI, local name);
* text escapes ``&`` ``<`` ``>`` and CR; attribute values escape ``&`` ``<`` ``"`` TAB LF CR;
* UTF-8 output.

Parsers report element names as ``{uri}local``; the prefix is recovered from the in-scope bindings. A
document that binds one URI to several prefixes in the same scope makes that ambiguous and is refused
(:class:`NamespaceError`) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

XML_NS = "http://www.w3.org/XML/1998/namespace"


class NamespaceError(ValueError):
    """The prefix of a name cannot be recovered (unbound, or the URI is bound to several prefixes)."""


def escape_text(value: str) -> str:
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#xD;")
    return value


def escape_attr(value: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return value.replace("\t", "&#x9;").replace("\n", "&#xA;").replace("\r", "&#xD;")


def split(name: str) -> tuple[str, str]:
    """``{uri}local`` → (uri, local); ``local`` → ("", local)."""
    if name.startswith("{"):
        uri, _, local = name[1:].partition("}")
        return uri, local
    return "", name


def _prefix_for(scope: Mapping[str, str], uri: str, local: str, *, attribute: bool) -> str:
    if uri == XML_NS:
        return "xml"
    candidates = sorted(p for p, u in scope.items() if u == uri and (p or not attribute))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NamespaceError(f"no prefix is bound to namespace {uri!r} (for {local!r})")
    shown = ", ".join(repr(p) for p in candidates)
    raise NamespaceError(
        f"namespace {uri!r} is bound to several prefixes ({shown}), so the prefix of {local!r} "
        "cannot be recovered; re-serialise the package with one prefix per namespace"
    )


class Canonicalizer:
    """Writes the Exc-C14N form of one element subtree to ``sink`` as events arrive.

    ``inherited`` is the namespace scope in force at the apex's parent (prefix → URI, "" = default).
    Call :meth:`start_ns` for each declaration of the next element before its :meth:`start`, then
    :meth:`data`, :meth:`pi`, :meth:`end` as in a SAX stream. :attr:`done` is set after the apex's end tag.
    """

    def __init__(self, sink: Callable[[bytes], object], inherited: Mapping[str, str] | None = None) -> None:
        self._sink = sink
        self._scope: list[dict[str, str]] = [dict(inherited or {})]
        self._rendered: list[dict[str, str]] = [{}]
        self._qnames: list[str] = []
        self._pending: dict[str, str] = {}
        self.done = False
        self.size = 0

    def _out(self, text: str) -> None:
        data = text.encode("utf-8")
        self.size += len(data)
        self._sink(data)

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self._pending[prefix or ""] = uri

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        if self.done:
            raise ValueError("the canonicalised subtree has already ended")
        scope = dict(self._scope[-1])
        scope.update(self._pending)
        self._pending = {}
        uri, local = split(tag)
        prefix = "" if not uri else _prefix_for(scope, uri, local, attribute=False)
        qname = f"{prefix}:{local}" if prefix else local
        used = {prefix}
        attrs: list[tuple[str, str, str, str]] = []
        for key, value in attrib.items():
            auri, alocal = split(key)
            if auri:
                aprefix = _prefix_for(scope, auri, alocal, attribute=True)
                if aprefix != "xml":
                    used.add(aprefix)
                attrs.append((auri, alocal, f"{aprefix}:{alocal}", value))
            else:
                attrs.append(("", alocal, alocal, value))
        rendered = dict(self._rendered[-1])
        decls: list[tuple[str, str]] = []
        for p in sorted(used):
            if p == "xml":
                continue
            bound = scope.get(p, "")
            if p == "" and bound == "":
                # An element in no namespace: undeclare an output default namespace, else nothing.
                if rendered.get("", "") != "":
                    decls.append(("", ""))
                    rendered[""] = ""
                continue
            if rendered.get(p) != bound:
                decls.append((p, bound))
                rendered[p] = bound
        parts = ["<", qname]
        for p, bound in decls:
            parts.append(f' xmlns:{p}="{escape_attr(bound)}"' if p else f' xmlns="{escape_attr(bound)}"')
        for _auri, _alocal, aqname, value in sorted(attrs, key=lambda a: (a[0], a[1])):
            parts.append(f' {aqname}="{escape_attr(value)}"')
        parts.append(">")
        self._out("".join(parts))
        self._scope.append(scope)
        self._rendered.append(rendered)
        self._qnames.append(qname)

    def data(self, text: str) -> None:
        if text and self._qnames:
            self._out(escape_text(text))

    def pi(self, target: str, data: str | None) -> None:
        if self._qnames:
            self._out(f"<?{target} {data}?>" if data else f"<?{target}?>")

    def end(self) -> None:
        self._out(f"</{self._qnames.pop()}>")
        self._scope.pop()
        self._rendered.pop()
        if not self._qnames:
            self.done = True

    @property
    def depth(self) -> int:
        return len(self._qnames)
