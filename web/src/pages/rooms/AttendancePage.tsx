import { ArrowLeftOutlined, DownloadOutlined, ReloadOutlined } from "@ant-design/icons";
import { Button, Card, Flex, Segmented, Skeleton, Table, Tag, Typography } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { rooms as roomsApi } from "../../api/endpoints";
import type { Attendance, AttendanceRow, AttendanceStatus } from "../../api/types";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";
import { useCurrentOrg } from "../../orgs/OrgsContext";
import { useRoleName } from "./labels";

const STATUS_COLOR: Record<AttendanceStatus, string> = { present: "green", late: "orange", absent: "red" };
const STATUS_ORDER: Record<AttendanceStatus, number> = { present: 0, late: 1, absent: 2 };

/** Who came to a class or meeting: present, late or absent, minutes, with a CSV download. For the
 * host, cohosts and administrators. */
export function AttendanceTable({ orgId, roomId }: { orgId: string; roomId: string }) {
  const { t, formatDate } = useI18n();
  const roleName = useRoleName();
  const [attendance, setAttendance] = useState<Attendance | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [filter, setFilter] = useState<"all" | AttendanceStatus>("all");

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      setAttendance(await roomsApi.attendance(orgId, roomId));
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, [orgId, roomId]);

  useEffect(() => {
    load().catch(() => undefined);
  }, [load]);

  const rows = useMemo(() => {
    const all = attendance?.rows ?? [];
    // Present, late, absent; within each, the server's order (teachers and hosts first, then by name).
    return all
      .map((row, index) => ({ row, index }))
      .filter(({ row }) => filter === "all" || row.status === filter)
      .sort((a, b) => (STATUS_ORDER[a.row.status] ?? 9) - (STATUS_ORDER[b.row.status] ?? 9) || a.index - b.index)
      .map(({ row }) => row);
  }, [attendance, filter]);
  const counts = useMemo(() => {
    const c: Record<AttendanceStatus, number> = { present: 0, late: 0, absent: 0 };
    for (const r of attendance?.rows ?? []) if (r.status in c) c[r.status] += 1;
    return c;
  }, [attendance]);

  if (error && !attendance) return <ErrorAlert error={error} onRetry={() => load()} />;
  if (!attendance) return <Skeleton active />;
  const kind = attendance.room.kind;

  return (
    <div data-testid="attendance">
      <Flex align="center" gap={12} wrap style={{ marginBottom: 12 }}>
        <Segmented
          value={filter}
          onChange={(v) => setFilter(v as typeof filter)}
          options={[
            { value: "all", label: `${t("room.attendance.all")} ${attendance.rows.length}` },
            { value: "present", label: `${t("room.attendance.present")} ${counts.present}` },
            { value: "late", label: `${t("room.attendance.late")} ${counts.late}` },
            { value: "absent", label: `${t("room.attendance.absent")} ${counts.absent}` },
          ]}
          data-testid="attendance-filter"
        />
        <div style={{ flex: 1 }} />
        <Button icon={<ReloadOutlined />} onClick={() => load()} loading={loading} aria-label={t("room.attendance.refresh")} />
        <Button
          icon={<DownloadOutlined />}
          href={roomsApi.attendanceCsvUrl(orgId, roomId)}
          download
          data-testid="attendance-csv"
        >
          {t("room.attendance.csv")}
        </Button>
      </Flex>
      {attendance.starts_at ? (
        <Typography.Paragraph type="secondary" style={{ fontSize: 13 }}>
          {t("room.attendance.startedAt", { time: formatDate(attendance.starts_at, true) })}
          {kind === "class" ? ` ${t("room.attendance.lateRule")}` : ""}
        </Typography.Paragraph>
      ) : null}
      <Table<AttendanceRow>
        size="small"
        rowKey="member_id"
        dataSource={rows}
        pagination={rows.length > 50 ? { pageSize: 50, showSizeChanger: false } : false}
        onRow={(row) => ({ "data-testid": "attendance-row", "data-member-id": row.member_id, "data-status": row.status }) as object}
        columns={[
          {
            title: t("room.attendance.name"),
            dataIndex: "display_name",
            render: (name: string) => <span data-testid="attendance-name">{name}</span>,
          },
          {
            title: t("room.attendance.role"),
            dataIndex: "role",
            render: (role: string | null) => (role ? roleName(role, kind) : ""),
          },
          {
            title: t("room.attendance.status"),
            dataIndex: "status",
            render: (status: AttendanceStatus) => (
              <Tag color={STATUS_COLOR[status]} data-testid="attendance-status" data-status={status}>
                {t(`room.attendance.${status}` as "room.attendance.present")}
              </Tag>
            ),
          },
          {
            title: t("room.attendance.minutes"),
            dataIndex: "minutes_present",
            align: "right",
            render: (minutes: number) => <span data-testid="attendance-minutes">{Math.round(minutes ?? 0)}</span>,
          },
          {
            title: t("room.attendance.firstJoined"),
            dataIndex: "first_joined_at",
            render: (at: string | null) => (at ? formatDate(at, true) : "—"),
          },
          {
            title: t("room.attendance.joins"),
            dataIndex: "joins",
            align: "right",
          },
        ]}
      />
    </div>
  );
}

/** /orgs/ORG/rooms/ROOM/attendance */
export function AttendancePage() {
  const { roomId = "" } = useParams();
  const org = useCurrentOrg();
  const { t } = useI18n();
  const [title, setTitle] = useState<string>("");
  const [conversationId, setConversationId] = useState<string | null>(null);

  useEffect(() => {
    roomsApi.get(org.id, roomId).then(
      (room) => {
        setTitle(room.title);
        setConversationId(room.conversation_id);
      },
      () => undefined,
    );
  }, [org.id, roomId]);

  return (
    <Card
      data-testid="attendance-page"
      title={
        <Flex align="center" gap={8}>
          {conversationId ? (
            <Link to={`/orgs/${org.id}/chat/${conversationId}`} aria-label={t("chat.back")}>
              <ArrowLeftOutlined />
            </Link>
          ) : null}
          <span>{t("room.attendanceOf", { title })}</span>
        </Flex>
      }
    >
      <AttendanceTable orgId={org.id} roomId={roomId} />
    </Card>
  );
}
