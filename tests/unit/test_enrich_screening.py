from __future__ import annotations

from pathlib import Path

import pytest

from streams.enrich import Screener, load_screener
from streams.enrich.screening import ListEntry, read_ofac_csv, read_un_xml
from streams.errors import ConfigError
from streams.messages import Entity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sanctions"
SHARED = Path(__file__).parents[3] / "shared" / "data" / "sanctions"


@pytest.fixture(scope="module")
def screener() -> Screener:
    loaded = load_screener(
        ofac_paths=[FIXTURES / "sdn.csv"], un_paths=[FIXTURES / "un_consolidated.xml"]
    )
    assert loaded is not None
    return loaded


def hits(screener: Screener, name: str, label: str = "PERSON") -> list[tuple[str, str, float]]:
    found = screener.screen([Entity(name=name, label=label, spans=[(0, len(name))], count=1)])
    return [(h.list, h.entry_id, h.score) for h in found]


def test_ofac_csv_official_layout() -> None:
    entries = {e.entry_id: e for e in read_ofac_csv(FIXTURES / "sdn.csv")}
    assert "9003" not in entries  # vessels are not screened against names
    prigozhin = entries["21171"]
    assert prigozhin.kind == "person" and prigozhin.list_name == "OFAC SDN"
    assert prigozhin.programs == ("UKRAINE-EO13661", "CYBER2", "ELECTION-EO13848")
    assert prigozhin.aliases == ("PRIGOZHIN, Evgeny",)
    assert entries["4697"].kind == "org"


def test_un_xml_official_layout() -> None:
    entries = {e.entry_id: e for e in read_un_xml(FIXTURES / "un_consolidated.xml")}
    zawahiri = entries["QDi.006"]
    assert zawahiri.name == "AIMAN MUHAMMED RABI AL-ZAWAHIRI"
    assert zawahiri.aliases == ("Ayman al-Zawahari",)  # low-quality aliases are left out
    assert entries["QDe.004"].kind == "org" and entries["QDe.004"].programs == ("Al-Qaida",)


def test_name_order_transliteration_and_missing_patronymic(screener: Screener) -> None:
    assert hits(screener, "Yevgeny Prigozhin") == [("OFAC SDN", "21171", 1.0)]
    assert hits(screener, "Evgeniy Prigozhin")[0][:2] == ("OFAC SDN", "21171")
    assert hits(screener, "Igor Sechin") == [("OFAC SDN", "16692", 1.0)]
    assert hits(screener, "Ayman al-Zawahiri")[0][:2] == ("UN", "QDi.006")


def test_hit_carries_list_entry_programs_and_score(screener: Screener) -> None:
    found = screener.screen([Entity("Igor Sechin", "PERSON", [(0, 11)], 1)])
    assert [(h.entity, h.list, h.entry_id, h.entry_name, h.programs) for h in found] == [
        ("Igor Sechin", "OFAC SDN", "16692", "SECHIN, Igor", ["UKRAINE-EO13661"])
    ]
    assert 0.9 <= found[0].score <= 1.0


def test_equal_scores_come_in_list_and_entry_order_whatever_the_lists_order() -> None:
    # The same person on two lists, the UN list loaded first: the hits tie at 1.0.
    screener = Screener(
        [
            ListEntry("UN", "QDi.999", "Omar Khalid Rahman", "person", ("Al-Qaida",)),
            ListEntry("OFAC SDN", "9002", "RAHMAN, Omar Khalid", "person", ("SDGT",)),
            ListEntry("OFAC SDN", "9001", "Omar Khalid RAHMAN", "person", ("SDGT",)),
        ]
    )
    assert hits(screener, "Omar Khalid Rahman") == [
        ("OFAC SDN", "9001", 1.0),
        ("OFAC SDN", "9002", 1.0),
        ("UN", "QDi.999", 1.0),
    ]


def test_one_shared_token_never_matches(screener: Screener) -> None:
    assert hits(screener, "Igor Morgulov") == []
    assert hits(screener, "Sechin") == []
    assert hits(screener, "Igor Petrov") == []
    assert hits(screener, "Sergei Prigozhin") == []


def test_organisations(screener: Screener) -> None:
    assert hits(screener, "Internet Research Agency", "ORG")[0][:2] == ("OFAC SDN", "23943")
    assert hits(screener, "Glavset", "ORG")[0][:2] == ("OFAC SDN", "23943")
    assert hits(screener, "Hezbollah", "ORG")[0][:2] == ("OFAC SDN", "4697")
    assert hits(screener, "Al-Qaida", "ORG")[0][:2] == ("UN", "QDe.004")
    assert hits(screener, "Internet Archive", "ORG") == []
    assert hits(screener, "Ocean Queen", "ORG") == []


def test_an_ofac_download_folder_reads_as_its_primary_csv(tmp_path: Path) -> None:
    from_folder = load_screener(ofac_paths=[FIXTURES])
    from_file = load_screener(ofac_paths=[FIXTURES / "sdn.csv"])
    assert from_folder is not None and from_file is not None
    assert len(from_folder) == len(from_file) > 0
    assert hits(from_folder, "Glavset", "ORG") == hits(from_file, "Glavset", "ORG")

    with pytest.raises(ConfigError, match=r"expected sdn\.csv or cons_prim\.csv"):
        load_screener(ofac_paths=[tmp_path])


def test_places_and_other_labels_are_not_screened(screener: Screener) -> None:
    assert hits(screener, "Igor Sechin", "GPE") == []


def test_screening_is_off_without_lists() -> None:
    assert load_screener() is None


def test_unreadable_list_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_screener(un_paths=[tmp_path / "missing.xml"])
    (tmp_path / "bad.xml").write_text("<CONSOLIDATED_LIST>", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_screener(un_paths=[tmp_path / "bad.xml"])


@pytest.mark.skipif(not SHARED.exists(), reason="shared evaluation data not present")
def test_full_official_lists_load_and_common_names_stay_quiet() -> None:
    screener = load_screener(
        ofac_paths=[SHARED / "ofac_sdn" / "sdn.csv"],
        un_paths=[SHARED / "un_consolidated" / "UN_consolidated.xml"],
    )
    assert screener is not None and len(screener) > 9000
    assert hits(screener, "Kim Jong Un")[0][:2] == ("OFAC SDN", "20157")
    for common in ("Mohammed Ali", "Ahmed Hassan", "Kim Lee", "Jose Garcia", "Maria Lopez"):
        assert hits(screener, common) == [], common
