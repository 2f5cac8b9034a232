"""Domain enumerations. Values are stored in the database; labels are what users read."""
import enum


class Profile(enum.StrEnum):
    STUDENT = "student"
    PARENT = "parent"
    TEACHER = "teacher"
    STAFF = "staff"
    OTHER = "other"

    @property
    def label(self) -> str:
        return PROFILE_LABELS[self]


PROFILE_LABELS = {
    Profile.STUDENT: "Élève",
    Profile.PARENT: "Parent d'élève",
    Profile.TEACHER: "Enseignant",
    Profile.STAFF: "Personnel non enseignant",
    Profile.OTHER: "Autre",
}


class GroupKind(enum.StrEnum):
    CLASS = "ENTClasse"
    GROUP = "ENTGroupe"
    AD_HOC = "Ad-hoc"

    @property
    def label(self) -> str:
        """What pages say; the value stays the code that CSV imports and SSO feeds use."""
        return GROUP_KIND_LABELS[self]


GROUP_KIND_LABELS = {
    GroupKind.CLASS: "Classe",
    GroupKind.GROUP: "Groupe",
    GroupKind.AD_HOC: "Groupe libre",
}


class Role(enum.StrEnum):
    INTERNAL_MAIL = "internal_mail"
    SEND = "send"
    SEND_EXTENDED = "send_extended"
    DIRECTORY_USER = "directory_user"
    DIRECTORY_ADVANCED = "directory_advanced"
    DIRECTORY_MANAGER = "directory_manager"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.INTERNAL_MAIL: "Messagerie interne",
    Role.SEND: "Accès au service d'envoi",
    Role.SEND_EXTENDED: "Accès au service d'envoi étendu",
    Role.DIRECTORY_USER: "Utilisateur (annuaire)",
    Role.DIRECTORY_ADVANCED: "Utilisateur avancé (annuaire)",
    Role.DIRECTORY_MANAGER: "Gestionnaire annuaire",
}

# SPEC §1: the roles each profile has unless an administrator grants or removes one.
DEFAULT_ROLES: dict[Profile, frozenset[Role]] = {
    Profile.STUDENT: frozenset({Role.INTERNAL_MAIL, Role.DIRECTORY_USER}),
    Profile.PARENT: frozenset({Role.SEND, Role.DIRECTORY_USER}),
    Profile.OTHER: frozenset({Role.SEND, Role.DIRECTORY_USER}),
    Profile.TEACHER: frozenset({Role.SEND_EXTENDED, Role.DIRECTORY_MANAGER}),
    Profile.STAFF: frozenset({Role.SEND_EXTENDED, Role.DIRECTORY_ADVANCED}),
}
