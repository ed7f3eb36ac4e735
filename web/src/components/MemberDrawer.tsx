import { Descriptions, Drawer, Empty, Flex, Space, Tag, Typography } from "antd";
import { orgs as orgsApi } from "../api/endpoints";
import type { MemberDetail } from "../api/types";
import { useI18n } from "../i18n";
import { useRoleLabel } from "../lib/labels";
import { useAsync } from "../lib/useAsync";
import { ErrorAlert } from "./ErrorAlert";
import { FullPageSpinner } from "./FullPageSpinner";
import { MemberAvatar } from "./MemberList";

/** A person's card: title, departments, manager, how to reach them, family links in schools. */
export function MemberDrawer({
  orgId,
  memberId,
  onClose,
  departmentLabel,
}: {
  orgId: string;
  memberId: string | null;
  onClose: () => void;
  departmentLabel?: (id: string, fallback?: string) => string;
}) {
  const { t } = useI18n();
  return (
    <Drawer open={!!memberId} onClose={onClose} width={440} title={t("member.detailTitle")} destroyOnHidden>
      {memberId ? <MemberDetailBody orgId={orgId} memberId={memberId} departmentLabel={departmentLabel} /> : null}
    </Drawer>
  );
}

function MemberDetailBody({
  orgId,
  memberId,
  departmentLabel,
}: {
  orgId: string;
  memberId: string;
  departmentLabel?: (id: string, fallback?: string) => string;
}) {
  const { data, error, loading, reload } = useAsync(() => orgsApi.member(orgId, memberId), [orgId, memberId]);
  if (loading) return <FullPageSpinner />;
  if (error || !data) return <ErrorAlert error={error} onRetry={reload} />;
  return <MemberCard member={data} departmentLabel={departmentLabel} />;
}

export function MemberCard({ member, departmentLabel }: { member: MemberDetail; departmentLabel?: (id: string, fallback?: string) => string }) {
  const { t, formatDate } = useI18n();
  const roleLabel = useRoleLabel();
  const none = <Typography.Text type="secondary">—</Typography.Text>;
  return (
    <div data-testid="member-detail">
      <Flex gap={16} align="center" style={{ marginBottom: 24 }}>
        <MemberAvatar name={member.display_name} id={member.id} size={64} />
        <div style={{ minWidth: 0 }}>
          <Typography.Title level={4} style={{ margin: 0 }} data-testid="member-detail-name">
            {member.display_name}
          </Typography.Title>
          {member.title ? <Typography.Text type="secondary">{member.title}</Typography.Text> : null}
          <div style={{ marginTop: 4 }}>
            {member.roles.map((role) => (
              <Tag key={role} color={role === "owner" || role === "admin" ? "blue" : undefined}>
                {roleLabel(role)}
              </Tag>
            ))}
            {member.status === "removed" ? <Tag color="red">{t("member.removed")}</Tag> : null}
          </div>
        </div>
      </Flex>
      <Descriptions column={1} size="small" colon={false} styles={{ label: { width: 110 } }}>
        <Descriptions.Item label={t("member.departments")}>
          {member.departments.length ? (
            <Space size={[4, 4]} wrap>
              {member.departments.map((d) => (
                <Tag key={d.id}>{departmentLabel ? departmentLabel(d.id, d.name) : d.name}</Tag>
              ))}
            </Space>
          ) : (
            none
          )}
        </Descriptions.Item>
        <Descriptions.Item label={t("member.manager")}>{member.manager_name ?? none}</Descriptions.Item>
        {member.mobile ? (
          <Descriptions.Item label={t("member.mobile")}>
            <Typography.Link href={`tel:${member.mobile}`} data-testid="member-detail-mobile">
              {member.mobile}
            </Typography.Link>
          </Descriptions.Item>
        ) : null}
        {member.email ? (
          <Descriptions.Item label={t("member.email")}>
            <Typography.Link href={`mailto:${member.email}`} data-testid="member-detail-email">
              {member.email}
            </Typography.Link>
          </Descriptions.Item>
        ) : null}
        {member.staff_id ? <Descriptions.Item label={t("member.staffId")}>{member.staff_id}</Descriptions.Item> : null}
        <Descriptions.Item label={t("member.joined")}>{formatDate(member.joined_at)}</Descriptions.Item>
      </Descriptions>
      {member.parents.length || member.children.length ? (
        <>
          <Typography.Title level={5} style={{ marginTop: 24 }}>
            {t("member.family")}
          </Typography.Title>
          <Descriptions column={1} size="small" colon={false} styles={{ label: { width: 110 } }}>
            {member.parents.length ? (
              <Descriptions.Item label={t("member.parents")}>
                <GuardianList people={member.parents} />
              </Descriptions.Item>
            ) : null}
            {member.children.length ? (
              <Descriptions.Item label={t("member.children")}>
                <GuardianList people={member.children} />
              </Descriptions.Item>
            ) : null}
          </Descriptions>
        </>
      ) : null}
      {!member.mobile && !member.email ? (
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("member.noContact")} style={{ marginTop: 24 }} />
      ) : null}
    </div>
  );
}

function GuardianList({ people }: { people: { member_id: string; display_name: string; relation: string | null }[] }) {
  return (
    <Space direction="vertical" size={2}>
      {people.map((p) => (
        <span key={p.member_id}>
          {p.display_name}
          {p.relation ? <Typography.Text type="secondary"> ({p.relation})</Typography.Text> : null}
        </span>
      ))}
    </Space>
  );
}
