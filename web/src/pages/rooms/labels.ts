import type { RoomKind } from "../../api/types";
import { useI18n, type MessageKey } from "../../i18n";

const CLASS_ROLES: Record<string, MessageKey> = {
  host: "room.role.class.host",
  cohost: "room.role.class.cohost",
  presenter: "room.role.class.presenter",
  attendee: "room.role.class.attendee",
};

const MEETING_ROLES: Record<string, MessageKey> = {
  host: "room.role.meeting.host",
  cohost: "room.role.meeting.cohost",
  presenter: "room.role.meeting.presenter",
  attendee: "room.role.meeting.attendee",
};

/** A participant's role in words: 老师 / 学生 in a class, 主持人 / 参会人 in a meeting. */
export function useRoleName() {
  const { t } = useI18n();
  return (role: string, kind: RoomKind | string) => {
    const table = kind === "class" ? CLASS_ROLES : MEETING_ROLES;
    return role in table ? t(table[role]) : role;
  };
}
