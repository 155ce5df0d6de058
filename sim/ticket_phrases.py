"""The phrase book of the ticket generator (sim.ticketgen): what its tickets are made of.

English scenarios (subjects paired with matching problem statements), details, urgency and
sentiment cues, greetings and closings; fewer scenarios in German, Spanish, French and
Portuguese; and the names, domains, phone prefixes and streets personal data is drawn from.
"""

from __future__ import annotations

# --- Vocabulary shared by the English templates -------------------------------------

FEATURES = (
    "the dashboard",
    "CSV export",
    "the invoice PDF download",
    "single sign-on",
    "calendar sync",
    "the report builder",
    "user import",
    "push notifications",
    "search",
    "file uploads",
    "two-factor authentication",
    "the Slack integration",
    "webhooks",
    "the audit log",
    "team permissions",
)
PLATFORMS = (
    "Chrome on Windows 11",
    "Safari on macOS Sonoma",
    "Firefox on Ubuntu 22.04",
    "Edge on Windows 10",
    "the iOS app",
    "the Android app",
)
DEVICES = ("iPhone 14", "iPhone 15 Pro", "Pixel 8", "Samsung Galaxy S23", "iPad Air", "OnePlus 11")
ERRORS = (
    "a 500 Internal Server Error",
    '"Error 403: Forbidden"',
    "ERR_CONNECTION_RESET",
    "a blank white page",
    '"Something went wrong (code E1042)"',
    "a spinner that never stops",
    "a TimeoutError after 30 seconds",
)
INTEGRATIONS = ("Salesforce", "HubSpot", "Slack", "Jira", "Google Sheets", "QuickBooks", "Shopify")
PLANS = ("Starter", "Team", "Business", "Enterprise")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend")
COMPANIES = (
    "Brightline Logistics",
    "Northwind Traders",
    "Bluefin Analytics",
    "Cedar & Stone",
    "Helios Health",
    "Quantum Retail",
    "Greenleaf Foods",
    "Orbit Media",
)

# Each scenario pairs subjects with a matching problem statement, so a ticket never
# has a subject about one thing and a body about another.
EN_SCENARIOS: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "bug": [
        (
            ("{feature_cap} fails with an error", "Error when using {feature}", "{feature_cap} broken"),
            (
                "Since this morning, every time I try to use {feature} I get {error}. "
                "It worked fine last week. I'm on {platform}.",
                "{feature_cap} has stopped working for me. I only get {error} when I open it.",
            ),
        ),
        (
            ("App crashes on launch after update {version}", "Mobile app keeps crashing"),
            (
                "After updating to version {version} the app closes immediately when I open it "
                "on my {device}. I reinstalled it twice, no luck.",
                "The app crashes as soon as I tap on {feature} on my {device} (version {version}).",
            ),
        ),
        (
            ("Changes not saving in {feature}", "Edits disappear after refresh"),
            (
                "My edits to {feature} are lost as soon as I refresh the page. "
                "There is no error message, the changes are just gone.",
            ),
        ),
        (
            ("Can't log in - stuck in a login loop", "Login redirect loop"),
            (
                "When I sign in I'm sent straight back to the login page. Clearing cookies did "
                "not help and it happens on {platform} as well.",
            ),
        ),
        (
            ("{integration} sync stopped working", "{integration} integration not syncing"),
            (
                "Our {integration} integration has not synced since {weekday}. About {count} "
                "records are missing and the status page says everything is fine.",
            ),
        ),
        (
            ("{feature_cap} extremely slow", "Performance problem with {feature}"),
            (
                "Loading {feature} now takes over {seconds} seconds, it used to be instant. "
                "Our team of {team_size} is affected.",
            ),
        ),
        (
            ("Email notifications not arriving", "No notification emails since {weekday}"),
            (
                "None of us have received notification emails since {weekday}. They are not in "
                "spam either. Other emails from your domain arrive normally.",
            ),
        ),
        (
            ("CSV export has wrong dates", "Exported dates shifted by one day"),
            (
                "Every date in the CSV export is one day earlier than what the app shows. "
                "It looks like a timezone problem and it breaks our monthly reporting.",
            ),
        ),
    ],
    "feature_request": [
        (
            ("Feature request: dark mode", "Any plans for a dark mode?"),
            (
                "It would be great to have a dark mode. Several people on my team work late "
                "and the bright interface is hard on the eyes.",
            ),
        ),
        (
            ("Bulk edit in {feature}", "Suggestion: bulk actions"),
            (
                "Could you add a way to edit many items at once in {feature}? Right now we "
                "change {count} records one by one every week.",
            ),
        ),
        (
            ("Integration with {integration}", "Request: {integration} integration"),
            (
                "We would love a native {integration} integration. Today we copy data over by "
                "hand, which is slow and error-prone.",
            ),
        ),
        (
            ("More granular permissions", "Feature idea: read-only role"),
            ("We need a read-only role so contractors can see {feature} without being able to change anything.",),
        ),
        (
            ("Custom fields in reports", "Please allow custom fields in the report builder"),
            (
                "The report builder ignores our custom fields. Being able to group and filter "
                "by them would save us hours every month.",
            ),
        ),
        (
            ("Export to Excel", "Native XLSX export please"),
            (
                "A native Excel export with formatting would help a lot; CSV loses our number "
                "formats and leading zeros.",
            ),
        ),
        (
            ("API endpoint for {feature}", "Public API for {feature}?"),
            (
                "Is there any plan to expose {feature} in the public API? We would like to "
                "automate it from our own systems.",
            ),
        ),
    ],
    "billing": [
        (
            ("Charged twice for {month}", "Double charge on my card", "Duplicate payment"),
            (
                "I see two charges of ${amount} on my card statement for {month}, but we only "
                "have one subscription (invoice {invoice}). Please refund the duplicate.",
            ),
        ),
        (
            ("Refund request", "Requesting a refund for annual plan"),
            (
                "We cancelled our {plan} plan a few days after the renewal and did not use it "
                "since. I would like a refund of ${amount} for invoice {invoice}.",
            ),
        ),
        (
            ("Downgrade from {plan} to {plan2}", "How do I downgrade my plan?"),
            (
                "We want to move from the {plan} plan to {plan2} at the next renewal. "
                "What happens to our data and will the price be prorated?",
            ),
        ),
        (
            ("Invoice needs our VAT number", "Wrong company details on invoice {invoice}"),
            (
                "Invoice {invoice} is missing our VAT number and shows an old company address. "
                "Our accounting department cannot book it like this.",
            ),
        ),
        (
            ("Payment failed", "Card declined on renewal"),
            (
                "Our renewal payment of ${amount} failed and we got a warning that the account "
                "will be suspended. The card is valid, what is going on?",
            ),
        ),
        (
            ("Unexpected price increase", "Why did our bill go up?"),
            (
                "Our latest invoice ({invoice}) is ${amount}, much higher than last month. "
                "Nobody told us about a price change.",
            ),
        ),
        (
            ("Cancel subscription", "Please cancel our account"),
            (
                "Please cancel our subscription at the end of the current billing period and "
                "confirm that we won't be charged again.",
            ),
        ),
    ],
    "question": [
        (
            ("How do I add new users?", "Adding team members"),
            ("How can I invite new people to our workspace? I can't find the option under settings.",),
        ),
        (
            ("How to set up single sign-on", "SSO setup question"),
            (
                "We want to turn on SSO with our identity provider. Is there a step by step "
                "guide, and which plan do we need?",
            ),
        ),
        (
            ("Export all our data", "How can I download everything?"),
            ("Is there a way to export all of our data at once, including attachments?",),
        ),
        (
            ("API rate limits?", "Question about API limits"),
            (
                "What are the API rate limits on the {plan} plan? We are planning a nightly "
                "sync of about {count} records.",
            ),
        ),
        (
            ("Change the account email", "How do I change my login email?"),
            (
                "I changed jobs internally and need to move the account to a new email address. "
                "How do I do that without losing my settings?",
            ),
        ),
        (
            ("Data deletion request", "Please delete my personal data"),
            ("Under GDPR I am asking you to delete all personal data you hold about me and confirm once it is done.",),
        ),
        (
            ("Where are the keyboard shortcuts?", "Question about {feature}"),
            ("Quick question: is there a list of keyboard shortcuts for {feature} somewhere?",),
        ),
    ],
}

EN_DETAILS = {
    "bug": (
        "Steps to reproduce:\n1. Log in as an admin\n2. Open {feature}\n3. Click save\n"
        "Expected: the change is saved. Actual: {error}.",
        "I already tried another browser, an incognito window and logging out and back in.",
        "This affects everyone in our workspace, not only me. We have about {team_size} users.",
        "Our account ID is {account}. It started around {time} today.",
        "Here is what the browser console shows:\n"
        "    ERROR [app] request failed status=500 path=/api/reports/export "
        "request_id={request_id}",
    ),
    "feature_request": (
        "Competitors like {competitor} already offer this, and it came up in our last renewal discussion.",
        "We would be happy to beta test it and give feedback.",
        "At the moment our workaround is a spreadsheet that {team_size} people share.",
    ),
    "billing": (
        "We are on the {plan} plan with {team_size} seats, billed yearly.",
        "Please send the corrected invoice to our accounting department.",
        "I checked the billing page and it still shows the old amount of ${amount}.",
    ),
    "question": (
        "I looked through the help center but the articles seem to describe an older version of the settings page.",
        "We are on the {plan} plan, in case that matters.",
        "A link to the right documentation would be enough.",
    ),
}

EN_URGENT = (
    "This is urgent, our whole team is blocked.",
    "We need this fixed ASAP.",
    "Production is down for all of our customers!",
    "This is blocking our launch tomorrow, please treat it as a priority.",
    "URGENT: we are losing sales every hour this continues.",
    "Please escalate, this is critical for us.",
)
EN_URGENT_PREFIXES = ("URGENT: ", "[URGENT] ", "ASAP - ", "Production down: ", "Critical: ")
EN_RELAXED = (
    "No rush, whenever you get a chance.",
    "Not urgent at all, just curious.",
    "Take your time, this can wait until next week.",
    "Low priority, just something I noticed.",
)
EN_ANGRY = (
    "I'm really frustrated, this is the third time I'm writing about this.",
    "Honestly this is unacceptable for what we pay.",
    "I am extremely angry. Nobody has answered my previous emails.",
    "Very disappointed with your service lately.",
    "This is ridiculous and is wasting my whole day.",
)
EN_HAPPY = (
    "Thanks so much for your help!",
    "We love the product, keep up the great work.",
    "Your team has always been super helpful, thank you!",
    "Really appreciate it :)",
)
EN_GREETINGS = ("Hi,", "Hello support team,", "Hi there,", "Good morning,", "Hey,", "Dear Support,", "")
EN_CLOSINGS = ("Thanks,", "Best regards,", "Cheers,", "Regards,", "Thank you,", "")
EN_ANONYMOUS_SIGNATURES = ("", "", "Sent from my iPhone", "IT department", "The {company} team")
EN_PII = {
    "name": ("My name is {name} and I'm the admin of our account.", "My colleague {name2} has the same problem."),
    "email": (
        "You can reach me at {email}.",
        "My account email is {email}.",
        "Please reply to {email} instead of the address on file.",
    ),
    "phone": (
        "Call me on {phone} if that's easier.",
        "My phone number is {phone}.",
        "Best number to reach me: {phone}",
    ),
    "card": (
        "The card on the account is {card}, expiry {expiry}.",
        "I paid with this card: {card}.",
        "Card number in case you need to verify: {card}",
    ),
    "address": (
        "Our billing address is {address}.",
        "Please send the documents to {address}.",
        "Our address changed, the new one is {address}.",
    ),
}

# --- Other languages: fewer scenarios, same structure ---------------------------------

FOREIGN: dict[str, dict] = {
    "de": {
        "scenarios": {
            "bug": [
                (
                    ("Fehler beim CSV-Export", "CSV-Export funktioniert nicht"),
                    "Seit heute Morgen bekomme ich beim CSV-Export nur {error_de}. "
                    "Letzte Woche hat alles noch funktioniert.",
                ),
                (
                    ("App stürzt nach Update ab", "Absturz der iOS-App"),
                    "Nach dem Update auf Version {version} schließt sich die App sofort "
                    "wieder. Neu installieren hat nicht geholfen.",
                ),
            ],
            "feature_request": [
                (
                    ("Wunsch: Dunkelmodus", "Funktionswunsch Dark Mode"),
                    "Es wäre toll, wenn es einen Dunkelmodus gäbe. Viele im Team arbeiten abends.",
                )
            ],
            "billing": [
                (
                    ("Doppelte Abbuchung", "Rückerstattung gewünscht"),
                    "Uns wurden für die Rechnung {invoice} zweimal {amount} € "
                    "abgebucht. Bitte erstatten Sie den doppelten Betrag.",
                ),
                (
                    ("Rechnung ohne USt-IdNr.", "Falsche Rechnungsadresse"),
                    "Auf der Rechnung {invoice} fehlt unsere USt-IdNr. Bitte "
                    "schicken Sie uns eine korrigierte Rechnung.",
                ),
            ],
            "question": [
                (
                    ("Wie füge ich Benutzer hinzu?", "Frage zu Benutzern"),
                    "Wie kann ich neue Kollegen zu unserem Konto einladen? Ich "
                    "finde die Option in den Einstellungen nicht.",
                )
            ],
        },
        "greetings": ("Hallo,", "Guten Tag,", "Sehr geehrte Damen und Herren,", ""),
        "closings": ("Viele Grüße", "Mit freundlichen Grüßen", "Danke und Gruß", ""),
        "urgent": (
            "Das ist dringend, unser ganzes Team ist blockiert!",
            "Bitte so schnell wie möglich beheben, unsere Produktion steht.",
        ),
        "urgent_prefixes": ("DRINGEND: ", "[Dringend] "),
        "relaxed": ("Keine Eile, wann immer Sie Zeit haben.", "Nicht dringend, nur eine Frage."),
        "angry": ("Ich bin wirklich verärgert, das ist schon meine dritte Anfrage.", "Das ist absolut inakzeptabel."),
        "happy": ("Vielen Dank für Ihre Hilfe!", "Wir lieben Ihr Produkt, weiter so!"),
        "pii": {
            "name": ("Mein Name ist {name}, ich bin der Administrator unseres Kontos.",),
            "email": ("Sie erreichen mich unter {email}.",),
            "phone": ("Meine Telefonnummer ist {phone}.",),
            "card": ("Die hinterlegte Karte ist {card}, gültig bis {expiry}.",),
            "address": ("Unsere Rechnungsadresse lautet {address}.",),
        },
        "error": "eine leere weiße Seite",
    },
    "es": {
        "scenarios": {
            "bug": [
                (
                    ("Error al exportar CSV", "La exportación no funciona"),
                    "Desde esta mañana, cada vez que intento exportar a CSV aparece "
                    "{error_es}. La semana pasada funcionaba bien.",
                ),
                (
                    ("La app se cierra sola", "La aplicación falla al abrir"),
                    "Después de actualizar a la versión {version}, la aplicación se cierra en cuanto la abro.",
                ),
            ],
            "feature_request": [
                (
                    ("Sugerencia: modo oscuro", "Petición de funcionalidad"),
                    "Sería genial tener un modo oscuro, muchos de nosotros trabajamos de noche.",
                )
            ],
            "billing": [
                (
                    ("Cobro duplicado", "Solicitud de reembolso"),
                    "Nos han cobrado dos veces {amount} € por la factura {invoice}. "
                    "Por favor, devuelvan el cargo duplicado.",
                ),
                (
                    ("Cancelar suscripción", "Quiero darme de baja"),
                    "Por favor, cancelen nuestra suscripción al final del periodo "
                    "actual y confirmen que no habrá más cargos.",
                ),
            ],
            "question": [
                (
                    ("¿Cómo añado usuarios?", "Pregunta sobre usuarios"),
                    "¿Cómo puedo invitar a nuevos compañeros a nuestra cuenta? No "
                    "encuentro la opción en la configuración.",
                )
            ],
        },
        "greetings": ("Hola,", "Buenos días,", "Estimado equipo de soporte,", ""),
        "closings": ("Saludos,", "Un saludo,", "Gracias,", ""),
        "urgent": (
            "¡Es urgente, todo el equipo está bloqueado!",
            "Necesitamos una solución lo antes posible, producción está caída.",
        ),
        "urgent_prefixes": ("URGENTE: ", "[Urgente] "),
        "relaxed": ("Sin prisa, cuando puedan.", "No es urgente, solo una consulta."),
        "angry": ("Estoy muy molesto, es la tercera vez que escribo por esto.", "Esto es inaceptable."),
        "happy": ("¡Muchas gracias por su ayuda!", "Nos encanta el producto, ¡sigan así!"),
        "pii": {
            "name": ("Me llamo {name} y soy el administrador de la cuenta.",),
            "email": ("Pueden escribirme a {email}.",),
            "phone": ("Mi número de teléfono es {phone}.",),
            "card": ("La tarjeta registrada es {card}, caduca en {expiry}.",),
            "address": ("Nuestra dirección de facturación es {address}.",),
        },
        "error": "una página en blanco",
    },
    "fr": {
        "scenarios": {
            "bug": [
                (
                    ("Erreur lors de l'export CSV", "L'export ne fonctionne plus"),
                    "Depuis ce matin, chaque export CSV affiche {error_fr}. Tout fonctionnait la semaine dernière.",
                ),
                (
                    ("L'application plante au démarrage", "Crash de l'appli mobile"),
                    "Depuis la mise à jour vers la version {version}, l'application se ferme dès que je l'ouvre.",
                ),
            ],
            "feature_request": [
                (
                    ("Suggestion : mode sombre", "Demande de fonctionnalité"),
                    "Ce serait super d'avoir un mode sombre, beaucoup d'entre nous travaillent le soir.",
                )
            ],
            "billing": [
                (
                    ("Double prélèvement", "Demande de remboursement"),
                    "Nous avons été prélevés deux fois de {amount} € pour la facture "
                    "{invoice}. Merci de rembourser le doublon.",
                ),
                (
                    ("Facture incorrecte", "Numéro de TVA manquant"),
                    "Il manque notre numéro de TVA sur la facture {invoice}. Pouvez-"
                    "vous nous envoyer une facture corrigée ?",
                ),
            ],
            "question": [
                (
                    ("Comment ajouter des utilisateurs ?", "Question sur les comptes"),
                    "Comment inviter de nouveaux collègues sur notre compte ? Je ne "
                    "trouve pas l'option dans les paramètres.",
                )
            ],
        },
        "greetings": ("Bonjour,", "Madame, Monsieur,", "Bonjour l'équipe support,", ""),
        "closings": ("Cordialement,", "Merci d'avance,", "Bien à vous,", ""),
        "urgent": (
            "C'est urgent, toute l'équipe est bloquée !",
            "Merci de corriger au plus vite, la production est arrêtée.",
        ),
        "urgent_prefixes": ("URGENT : ", "[Urgent] "),
        "relaxed": ("Rien d'urgent, quand vous aurez le temps.", "Pas pressé, simple question."),
        "angry": ("Je suis vraiment agacé, c'est la troisième fois que j'écris à ce sujet.", "C'est inacceptable."),
        "happy": ("Merci beaucoup pour votre aide !", "Nous adorons votre produit, bravo !"),
        "pii": {
            "name": ("Je m'appelle {name} et je suis l'administrateur du compte.",),
            "email": ("Vous pouvez me joindre à {email}.",),
            "phone": ("Mon numéro de téléphone est le {phone}.",),
            "card": ("La carte enregistrée est la {card}, expiration {expiry}.",),
            "address": ("Notre adresse de facturation est {address}.",),
        },
        "error": "une page blanche",
    },
    "pt": {
        "scenarios": {
            "bug": [
                (
                    ("Erro ao exportar CSV", "A exportação não funciona"),
                    "Desde hoje de manhã, sempre que tento exportar para CSV aparece "
                    "{error_pt}. Na semana passada funcionava.",
                ),
                (
                    ("O app fecha sozinho", "Aplicativo travando"),
                    "Depois de atualizar para a versão {version}, o aplicativo fecha assim que eu abro.",
                ),
            ],
            "feature_request": [
                (
                    ("Sugestão: modo escuro", "Pedido de funcionalidade"),
                    "Seria ótimo ter um modo escuro, muitos de nós trabalham à noite.",
                )
            ],
            "billing": [
                (
                    ("Cobrança duplicada", "Pedido de reembolso"),
                    "Fomos cobrados duas vezes R$ {amount} pela fatura {invoice}. "
                    "Por favor, estornem a cobrança duplicada.",
                ),
                (
                    ("Cancelar assinatura", "Quero cancelar o plano"),
                    "Por favor, cancelem a nossa assinatura no fim do período atual e "
                    "confirmem que não haverá novas cobranças.",
                ),
            ],
            "question": [
                (
                    ("Como adiciono usuários?", "Dúvida sobre usuários"),
                    "Como posso convidar novos colegas para a nossa conta? Não encontro a opção nas configurações.",
                )
            ],
        },
        "greetings": ("Olá,", "Bom dia,", "Prezada equipe de suporte,", ""),
        "closings": ("Obrigado,", "Atenciosamente,", "Abraços,", ""),
        "urgent": (
            "É urgente, a equipe inteira está parada!",
            "Precisamos de uma solução o quanto antes, a produção caiu.",
        ),
        "urgent_prefixes": ("URGENTE: ", "[Urgente] "),
        "relaxed": ("Sem pressa, quando puderem.", "Não é urgente, só uma dúvida."),
        "angry": ("Estou muito irritado, é a terceira vez que escrevo sobre isso.", "Isso é inaceitável."),
        "happy": ("Muito obrigado pela ajuda!", "Adoramos o produto, continuem assim!"),
        "pii": {
            "name": ("Meu nome é {name} e sou o administrador da conta.",),
            "email": ("Podem me responder em {email}.",),
            "phone": ("Meu telefone é {phone}.",),
            "card": ("O cartão cadastrado é {card}, validade {expiry}.",),
            "address": ("Nosso endereço de cobrança é {address}.",),
        },
        "error": "uma página em branco",
    },
}

# --- Personal data --------------------------------------------------------------------

FIRST_NAMES = (
    "James",
    "Maria",
    "Wei",
    "Aisha",
    "Olga",
    "Kenji",
    "Priya",
    "Carlos",
    "Fatima",
    "Liam",
    "Sofia",
    "Mohammed",
    "Emma",
    "Lukas",
    "Chloé",
    "João",
    "Ana",
    "Dmitri",
    "Nia",
    "Hiroshi",
    "Isabella",
    "Noah",
    "Amara",
    "Mateo",
    "Zoe",
    "Raj",
    "Ingrid",
    "Tomasz",
    "Yuki",
    "Kwame",
    "Elena",
    "Oliver",
    "Leila",
    "Diego",
    "Hannah",
    "Arjun",
    "Brigitte",
    "Sean",
    "Mei",
    "Lucas",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Chen",
    "Okafor",
    "Müller",
    "Rossi",
    "Tanaka",
    "Patel",
    "Kowalski",
    "Johnson",
    "Nguyen",
    "Fernández",
    "Dubois",
    "Silva",
    "Ivanova",
    "Kim",
    "O'Brien",
    "Schmidt",
    "Haddad",
    "Andersson",
    "Martínez",
    "Williams",
    "Novak",
    "Costa",
    "Lefebvre",
    "Yamamoto",
    "Mensah",
    "Brown",
    "Gupta",
    "Santos",
    "Becker",
    "Moreau",
    "Pereira",
    "Walsh",
)
EMAIL_DOMAINS = (
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "acme-corp.com",
    "northwind.io",
    "example.org",
)
US_AREA_CODES = ("212", "312", "415", "646", "718", "206", "512", "617", "303", "404", "305", "702")
US_CITIES = (
    ("Springfield", "IL", "627"),
    ("Austin", "TX", "787"),
    ("Portland", "OR", "972"),
    ("Denver", "CO", "802"),
    ("Boston", "MA", "021"),
    ("Seattle", "WA", "981"),
)
US_STREETS = ("Maple", "Oak", "Cedar", "Washington", "Lake", "Hillcrest", "Park", "Sunset")
US_STREET_SUFFIXES = ("Street", "Avenue", "Road", "Boulevard", "Lane", "Drive")
