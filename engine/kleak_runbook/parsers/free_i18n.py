"""``free`` run in another language: its translated header and row labels, back in English.

procps-ng translates free's column header and its row labels ("Speicher:", "内存：", "Mem.:"), so
a ticket from a host with LANG=de_DE or zh_CN shows them translated; the figures are the same.
The tables are procps-ng's own translations (po/*.po of procps-ng 4: de, es, fr, pl, pt_BR, ro,
sv, uk, vi, ko, zh_CN), whitespace folded.
"""

from __future__ import annotations

import re

_HEADERS = {
    "gesamt benutzt frei gemeins. Puffer Cache verfügbar": "total used free shared buffers cache available",
    "gesamt benutzt frei gemns. Puffer/Cache verfügbar": "total used free shared buff/cache available",
    "total usado libre compartido búferes caché disponible": "total used free shared buffers cache available",
    "total usado libre compartido búf/caché disponible": "total used free shared buff/cache available",
    "total utilisé libre partagé tampons cache disponible": "total used free shared buffers cache available",
    "total utilisé libre partagé tamp/cache disponible": "total used free shared buff/cache available",
    "razem użyte wolne dzielone bufory w cache dostępne": "total used free shared buffers cache available",
    "razem użyte wolne dzielone buf/cache dostępne": "total used free shared buff/cache available",
    "total usada livre compart. buffers cache disponível": "total used free shared buffers cache available",
    "total usada livre compart. buff/cache disponível": "total used free shared buff/cache available",
    "загалом використ. вільна спільна буфери кеш дост.": "total used free shared buffers cache available",
    "загалом використ. вільна спільна буфери/кеш дост.": "total used free shared buff/cache available",
    "总计 已用 空闲 共享 缓冲 缓存 可用": "total used free shared buffers cache available",
    "总计 已用 空闲 共享 缓冲/缓存 可用": "total used free shared buff/cache available",
    "총계 사용 여분 공유 버퍼 캐시 가용": "total used free shared buffers cache available",
    "총계 사용 여분 공유 버퍼/캐시 가용": "total used free shared buff/cache available",
    "tổng dùng trống chsẻ đệm nhớ tạm sẵn sàng": "total used free shared buffers cache available",
    "tổng dùng trống chsẻ đệm/tạm sẵn sàng": "total used free shared buff/cache available",
    "totalt använt fritt delat buffertar cache tillgängl.": "total used free shared buffers cache available",
    "totalt använt fritt delat buff/cache tillgängl.": "total used free shared buff/cache available",
    "total utilizată liberă partajată buffers cache disponibilă": "total used free shared buffers cache available",
    "total utilizată liberă partajată buff/cache disponibilă": "total used free shared buff/cache available",
}
_LABELS = {
    "Speicher:": "Mem:",
    "Niedrig:": "Low:",
    "Hoch:": "High:",
    "Gesamt:": "Total:",
    "Inter:": "Swap:",
    "Baja:": "Low:",
    "Alta:": "High:",
    "Échange:": "Swap:",
    "Basse:": "Low:",
    "Haute:": "High:",
    "Pamięć:": "Mem:",
    "Wymiana:": "Swap:",
    "Niska:": "Low:",
    "Wysoka:": "High:",
    "Razem:": "Total:",
    "Mem.:": "Mem:",
    "Baixa:": "Low:",
    "Пам.:": "Mem:",
    "Своп.:": "Swap:",
    "Нижня:": "Low:",
    "Верхня:": "High:",
    "Загалом:": "Total:",
    "内存：": "Mem:",
    "交换：": "Swap:",
    "低：": "Low:",
    "高：": "High:",
    "总计：": "Total:",
    "메모리:": "Mem:",
    "스 왑:": "Swap:",
    "하 위:": "Low:",
    "상 위:": "High:",
    "총 계:": "Total:",
    "BNhớ:": "Mem:",
    "Tráo đổi:": "Swap:",
    "Thấp:": "Low:",
    "Cao:": "High:",
    "Tổng:": "Total:",
    "Minne:": "Mem:",
    "Växl.:": "Swap:",
    "Lågt:": "Low:",
    "Högt:": "High:",
    "Totalt:": "Total:",
}
_LABEL = re.compile(
    r"^(?P<label>"
    + "|".join(re.escape(k).replace(r"\ ", r"\s+") for k in sorted(_LABELS, key=len, reverse=True))
    + r")"
    r"(?P<rest>(?:\s+[0-9][0-9.,]*[KMGTPE]?i?B?)+\s*)$"
)


def english(line: str) -> str:
    """``line`` with free's translated header or row label put back in English; any other line as it is."""
    folded = " ".join(line.split())
    header = _HEADERS.get(folded)
    if header is not None:
        return header
    m = _LABEL.match(line.strip())
    if m is None:
        return line
    return _LABELS[" ".join(m["label"].split())] + m["rest"]
