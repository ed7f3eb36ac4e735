import { useI18n, type Lang, type Vars } from "../i18n";

/** The words of audio and video in rooms, in both languages (kept here with the media code). */
const en = {
  "media.unavailable": "Audio and video are unavailable right now. Everything else in the room works.",
  "media.unavailableRetry": "Try again",
  "media.connecting": "Connecting audio and video…",
  "media.reconnecting": "The connection to audio and video dropped. Reconnecting…",
  "media.kicked": "You were removed from this room, so your camera and microphone were turned off.",
  "media.refused": "Audio and video have ended for you in this room.",
  "media.waiting": "Audio and video start once the host lets you in.",
  "media.broadcastTitle": "You are watching the live broadcast",
  "media.broadcastHint":
    "This class is large, so you watch the teacher's stream a few seconds behind. You can still chat and raise your hand.",
  "media.broadcastHintMeeting":
    "This meeting is large, so you watch the host's stream a few seconds behind. You can still raise your hand.",
  "media.broadcastNotYet": "The broadcast starts as soon as the teacher turns on their camera.",
  "media.broadcastNotYetMeeting": "The broadcast starts as soon as the host turns on their camera.",
  "media.broadcastError": "The broadcast cannot be played right now. Retrying…",
  "media.poorNetworkTitle": "Your connection is poor, so you are watching the broadcast",
  "media.poorNetworkHint":
    "Your connection has been too weak for the live room for a while. The broadcast plays a few seconds behind and copes better with it. Go back once your connection improves.",
  "media.chosenHint": "You chose the broadcast: it plays a few seconds behind. Go back to the live room at any time.",
  "media.backToLive": "Back to the live room",
  "media.watchInstead": "Watch the broadcast instead",
  "media.watchInsteadHint": "On a weak connection the broadcast plays more smoothly, a few seconds behind.",
  "media.listenOnly": "You can watch and listen. The host can let you speak.",
  "media.noOneOnCamera": "Nobody is sharing their camera yet.",
  "media.you": "{name} (you)",
  "media.micOn": "Turn microphone off",
  "media.micOff": "Turn microphone on",
  "media.camOn": "Turn camera off",
  "media.camOff": "Turn camera on",
  "media.share": "Share screen",
  "media.stopShare": "Stop sharing",
  "media.devices": "Camera and microphone",
  "media.camera": "Camera",
  "media.microphone": "Microphone",
  "media.defaultDevice": "Default",
  "media.mutedByHost": "The host muted your microphone.",
  "media.mutedByHostClass": "The teacher muted your microphone.",
  "media.speaking": "Speaking",
  "media.micMuted": "Microphone off",
  "media.cameraOff": "Camera off",
  "media.deviceError": "Your camera or microphone could not be used. Check that this site may use them.",
  "media.shareError": "Screen sharing did not start.",
  "media.quality.good": "Good connection",
  "media.quality.fair": "Fair connection",
  "media.quality.poor": "Poor connection",
  "media.quality.unknown": "Checking connection…",
  "media.quality.detail": "Round trip {rtt} ms · {loss}% lost",
  "media.playSound": "Click to turn on sound",
} as const;

export type MediaMessageKey = keyof typeof en;

const zh: Record<MediaMessageKey, string> = {
  "media.unavailable": "音视频暂时不可用。会议室的其他功能照常使用。",
  "media.unavailableRetry": "重试",
  "media.connecting": "正在连接音视频…",
  "media.reconnecting": "音视频连接中断，正在重新连接…",
  "media.kicked": "你已被移出本房间，摄像头和麦克风已关闭。",
  "media.refused": "你在本房间的音视频已结束。",
  "media.waiting": "主持人让你进入后，音视频就会开始。",
  "media.broadcastTitle": "你正在观看直播",
  "media.broadcastHint": "本节课人数较多，你将观看老师的直播画面（有几秒延迟）。你仍可以聊天和举手。",
  "media.broadcastHintMeeting": "本次会议人数较多，你将观看主持人的直播画面（有几秒延迟）。你仍可以举手。",
  "media.broadcastNotYet": "老师打开摄像头后，直播就会开始。",
  "media.broadcastNotYetMeeting": "主持人打开摄像头后，直播就会开始。",
  "media.broadcastError": "直播暂时无法播放，正在重试…",
  "media.poorNetworkTitle": "你的网络较差，已为你切换到直播",
  "media.poorNetworkHint": "你的网络已有一段时间不够稳定，无法流畅参加实时互动。直播有几秒延迟，但更能适应较差的网络。网络好转后可以返回实时互动。",
  "media.chosenHint": "你选择了观看直播（有几秒延迟），随时可以返回实时互动。",
  "media.backToLive": "返回实时互动",
  "media.watchInstead": "改为观看直播",
  "media.watchInsteadHint": "网络较弱时，直播更流畅，但有几秒延迟。",
  "media.listenOnly": "你可以观看和收听。主持人允许后你才能发言。",
  "media.noOneOnCamera": "还没有人打开摄像头。",
  "media.you": "{name}（我）",
  "media.micOn": "关闭麦克风",
  "media.micOff": "打开麦克风",
  "media.camOn": "关闭摄像头",
  "media.camOff": "打开摄像头",
  "media.share": "共享屏幕",
  "media.stopShare": "停止共享",
  "media.devices": "摄像头和麦克风",
  "media.camera": "摄像头",
  "media.microphone": "麦克风",
  "media.defaultDevice": "默认",
  "media.mutedByHost": "主持人已将你静音。",
  "media.mutedByHostClass": "老师已将你静音。",
  "media.speaking": "正在说话",
  "media.micMuted": "麦克风已关闭",
  "media.cameraOff": "摄像头已关闭",
  "media.deviceError": "无法使用你的摄像头或麦克风。请检查浏览器是否允许本网站使用它们。",
  "media.shareError": "屏幕共享没有开始。",
  "media.quality.good": "网络良好",
  "media.quality.fair": "网络一般",
  "media.quality.poor": "网络较差",
  "media.quality.unknown": "正在检测网络…",
  "media.quality.detail": "往返 {rtt} 毫秒 · 丢包 {loss}%",
  "media.playSound": "点击开启声音",
};

const dictionaries: Record<Lang, Record<MediaMessageKey, string>> = { en, zh };

export function mediaText(lang: Lang, key: MediaMessageKey, vars?: Vars): string {
  const template = dictionaries[lang][key] ?? en[key];
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (match, name: string) => {
    const value = vars[name];
    return value === undefined || value === null ? match : String(value);
  });
}

export function useMediaText() {
  const { lang } = useI18n();
  return (key: MediaMessageKey, vars?: Vars) => mediaText(lang, key, vars);
}
