"""The web app's words in Chinese and English (the support manuals' vocabulary).

The language comes from the `lang` cookie (set by the switch in the header), else
from the browser's Accept-Language, else Chinese.
"""

from __future__ import annotations

from fastapi import Request

LANGUAGES = ("zh", "en")
LANG_COOKIE = "lang"

MESSAGES: dict[str, dict[str, str]] = {
    "app.tagline": {"zh": "工单与知识库", "en": "Support desk & knowledge base"},
    "nav.new": {"zh": "提交问题", "en": "New ticket"},
    "nav.console": {"zh": "工作台", "en": "Console"},
    "nav.kb": {"zh": "知识库", "en": "Knowledge base"},
    "nav.dashboard": {"zh": "统计分析", "en": "Dashboard"},
    "nav.signout": {"zh": "退出", "en": "Sign out"},
    "nav.signin": {"zh": "登录", "en": "Sign in"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "login.title": {"zh": "登录 Casewise", "en": "Sign in to Casewise"},
    "login.username": {"zh": "用户名", "en": "User name"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Sign in"},
    "login.failed": {"zh": "用户名或密码错误", "en": "Wrong user name or password"},
    "new.title": {"zh": "提交问题 / 报障", "en": "Report a problem"},
    "new.hint": {"zh": "描述问题时，右侧会实时显示可能的解决方案。",
                 "en": "As you describe the problem, possible solutions appear alongside."},
    "field.title": {"zh": "问题标题", "en": "Title"},
    "field.description": {"zh": "问题描述（现象、报错代码、发生时间）",
                          "en": "Description (what happens, error codes, since when)"},
    "field.product": {"zh": "产品", "en": "Product"},
    "field.impact": {"zh": "影响范围", "en": "Impact"},
    "field.urgency": {"zh": "紧急程度", "en": "Urgency"},
    "field.channel": {"zh": "来源渠道", "en": "Channel"},
    "field.requester": {"zh": "客户（报修人）", "en": "Requester"},
    "field.contact": {"zh": "联系方式", "en": "Contact"},
    "field.error_codes": {"zh": "错误代码（逗号分隔）", "en": "Error codes (comma separated)"},
    "new.submit": {"zh": "提交工单", "en": "Submit ticket"},
    "sugg.title": {"zh": "可能的解决方案", "en": "Possible solutions"},
    "sugg.articles": {"zh": "知识库文章", "en": "Articles"},
    "sugg.cases": {"zh": "相似的已解决工单", "en": "Similar resolved cases"},
    "sugg.empty": {"zh": "输入几个字，这里会显示相关的文章和案例。",
                   "en": "Type a few words and related articles and cases show up here."},
    "sugg.none": {"zh": "没有找到相关内容，请继续描述或直接提交。",
                  "en": "Nothing matching yet; keep describing or submit the ticket."},
    "sugg.loading": {"zh": "正在查找…", "en": "Searching…"},
    "sugg.solved": {"zh": "这解决了我的问题", "en": "This solved my problem"},
    "sugg.thanks": {"zh": "太好了！已记录，无需提交工单。", "en": "Great! Recorded; no ticket needed."},
    "sugg.error": {"zh": "暂时无法获取建议", "en": "Suggestions are unavailable right now"},
    "console.title": {"zh": "工作台", "en": "Agent console"},
    "queue.mine": {"zh": "我的工单", "en": "Mine"},
    "queue.team": {"zh": "本组工单", "en": "My team"},
    "queue.unassigned": {"zh": "待分配", "en": "Unassigned"},
    "queue.breaching": {"zh": "即将超时", "en": "Breaching soon"},
    "queue.all": {"zh": "全部", "en": "All"},
    "queue.empty": {"zh": "这个队列里没有工单。", "en": "No tickets in this queue."},
    "col.number": {"zh": "工单号", "en": "Number"},
    "col.title": {"zh": "标题", "en": "Title"},
    "col.status": {"zh": "状态", "en": "Status"},
    "col.priority": {"zh": "优先级", "en": "Priority"},
    "col.assignee": {"zh": "处理人", "en": "Assignee"},
    "col.sla": {"zh": "SLA 剩余", "en": "SLA left"},
    "filter.search": {"zh": "搜索工单号或标题", "en": "Search number or title"},
    "ticket.details": {"zh": "工单信息", "en": "Details"},
    "ticket.timeline": {"zh": "处理记录", "en": "Timeline"},
    "ticket.comments": {"zh": "沟通记录", "en": "Comments"},
    "ticket.actions": {"zh": "处理操作", "en": "Actions"},
    "ticket.visits": {"zh": "上门服务", "en": "On-site visits"},
    "ticket.similar": {"zh": "相似案例与文章", "en": "Similar cases and articles"},
    "ticket.triage": {"zh": "分类建议", "en": "Triage proposal"},
    "ticket.accept": {"zh": "采纳建议", "en": "Accept proposal"},
    "ticket.solved_it": {"zh": "用这个解决了", "en": "This solved it"},
    "ticket.draft_article": {"zh": "据此工单起草文章", "en": "Draft an article from this ticket"},
    "comment.add": {"zh": "添加回复", "en": "Add comment"},
    "comment.internal": {"zh": "内部备注（客户不可见）", "en": "Internal note (hidden from the customer)"},
    "comment.public": {"zh": "公开", "en": "Public"},
    "comment.internal_badge": {"zh": "内部", "en": "Internal"},
    "visit.schedule": {"zh": "安排上门", "en": "Schedule visit"},
    "action.go": {"zh": "确定", "en": "Confirm"},
    "kb.title": {"zh": "知识库", "en": "Knowledge base"},
    "kb.search": {"zh": "搜索文章", "en": "Search articles"},
    "kb.new": {"zh": "写新文章", "en": "New article"},
    "kb.empty": {"zh": "没有匹配的文章。", "en": "No matching articles."},
    "kb.edit": {"zh": "编辑", "en": "Edit"},
    "editor.title": {"zh": "文章编辑", "en": "Article editor"},
    "editor.preview": {"zh": "预览", "en": "Preview"},
    "editor.save": {"zh": "保存草稿", "en": "Save draft"},
    "editor.removed": {"zh": "已移除的个人信息", "en": "Personal data removed"},
    "nav.knowledge": {"zh": "知识维护", "en": "Knowledge upkeep"},
    "know.title": {"zh": "知识维护", "en": "Knowledge upkeep"},
    "know.hint": {"zh": "哪些问题还没有文章、哪些文章需要更新、哪些文章重复了。",
                  "en": "What to write, what to fix, what to merge or retire."},
    "know.mine": {"zh": "只看我负责的文章", "en": "Only articles I own"},
    "know.gaps": {"zh": "知识空白（无文章可解答的工单簇）", "en": "Knowledge gaps (ticket clusters no article answers)"},
    "know.stale": {"zh": "需要复审的文章", "en": "Stale articles"},
    "know.duplicates": {"zh": "疑似重复的文章", "en": "Near-duplicate articles"},
    "know.none": {"zh": "没有需要处理的内容。", "en": "Nothing to do here."},
    "know.tickets": {"zh": "个工单", "en": "tickets"},
    "know.review_overdue": {"zh": "已过复审日期", "en": "review date passed"},
    "know.reopened_tickets": {"zh": "关联工单被重开", "en": "linked tickets reopened"},
    "ver.title": {"zh": "版本与差异", "en": "Versions and differences"},
    "ver.from": {"zh": "旧版本", "en": "Older version"},
    "ver.to": {"zh": "新版本", "en": "Newer version"},
    "ver.compare": {"zh": "比较", "en": "Compare"},
    "ver.restore": {"zh": "以旧版本恢复为新草稿", "en": "Restore the older version as a new draft"},
    "ver.link": {"zh": "版本历史", "en": "Versions"},
    "dash.title": {"zh": "统计分析", "en": "Support metrics"},
    "dash.from": {"zh": "开始日期", "en": "From"},
    "dash.to": {"zh": "结束日期", "en": "To"},
    "dash.apply": {"zh": "查看", "en": "Show"},
    "dash.csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "dash.created": {"zh": "新建工单", "en": "Tickets created"},
    "dash.resolved": {"zh": "已解决", "en": "Resolved"},
    "dash.frt": {"zh": "平均响应时间（工作分钟）", "en": "Avg first response (business min)"},
    "dash.rt": {"zh": "平均解决时间（工作小时）", "en": "Avg resolution (business h)"},
    "dash.sla": {"zh": "SLA 达成率（解决）", "en": "SLA met (resolution)"},
    "dash.fcr": {"zh": "一次问题解决率", "en": "First-contact resolution"},
    "dash.reopen": {"zh": "重开率", "en": "Reopen rate"},
    "dash.escalation": {"zh": "升级率", "en": "Escalation rate"},
    "dash.csat": {"zh": "客户满意度", "en": "Satisfaction"},
    "dash.deflected": {"zh": "自助解决（未建单）", "en": "Solved without a ticket"},
    "dash.by_day": {"zh": "每日新建工单", "en": "Tickets per day"},
    "dash.by_weekday": {"zh": "按星期", "en": "By weekday"},
    "dash.backlog": {"zh": "积压工单（按状态）", "en": "Backlog by state"},
    "dash.waiting": {"zh": "等待时间按拖延原因（工作小时）", "en": "Waiting by delay reason (business h)"},
    "dash.csat_dist": {"zh": "满意度分布", "en": "Satisfaction distribution"},
    "dash.faults": {"zh": "常见故障类别", "en": "Most frequent categories"},
    "dash.engineers": {"zh": "工程师绩效", "en": "Per engineer"},
    "error.title": {"zh": "出错了", "en": "Something went wrong"},
    "error.back": {"zh": "返回首页", "en": "Back to start"},
    "loading": {"zh": "加载中…", "en": "Loading…"},
}

STATUS_LABELS = {
    "new": ("新建", "New"), "triaged": ("已分类", "Triaged"), "assigned": ("已派单", "Assigned"),
    "in_progress": ("处理中", "In progress"), "waiting": ("等待中", "Waiting"), "escalated": ("已升级", "Escalated"),
    "resolved": ("已解决待确认", "Resolved"), "closed": ("已关闭", "Closed"), "reopened": ("已重开", "Reopened"),
    "cancelled": ("已取消", "Cancelled"), "merged": ("已合并", "Merged"),
    "urgent": ("紧急", "Urgent"), "high": ("高", "High"), "normal": ("普通", "Normal"), "low": ("低", "Low"),
}


FIELD_LABELS = {
    "requester": ("客户", "Requester"), "contact": ("联系方式", "Contact"), "organisation": ("单位", "Organisation"),
    "channel": ("渠道", "Channel"), "product": ("产品", "Product"), "module": ("模块", "Module"),
    "version": ("版本", "Version"), "category": ("分类", "Category"), "problem_type": ("问题类型", "Problem type"),
    "team": ("处理组", "Team"), "assignee": ("处理人", "Assignee"), "error_codes": ("错误代码", "Error codes"),
    "asset_model": ("设备型号", "Asset model"), "asset_serial": ("序列号", "Serial number"),
    "environment": ("环境", "Environment"), "waiting_reason": ("拖延原因", "Waiting reason"),
    "resolution": ("解决方案", "Solution"), "root_cause": ("根本原因", "Root cause"),
    "satisfaction": ("满意度", "Satisfaction"), "priority_reason": ("优先级说明", "Priority reason"),
    "escalation_reason": ("升级原因", "Escalation reason"), "rnd_request": ("研发申请", "R&D request"),
    "solution": ("解决方案", "Solution"), "reason": ("原因", "Reason"), "merge_into": ("合并到（工单 id）", "Merge into (ticket id)"),
    "close_reason": ("关闭原因", "Close reason"), "scheduled_at": ("上门时间", "Time"), "place": ("地点", "Place"),
    "engineer": ("工程师", "Engineer"), "title": ("标题", "Title"), "tags": ("标签", "Tags"),
    "language": ("语言", "Language"), "audience": ("可见范围", "Audience"), "review_by": ("复审日期", "Review by"),
    "markdown": ("正文（Markdown）", "Body (markdown)"), "comment": ("意见", "Comment"),
    "priority": ("优先级", "Priority"),
}


def field_label(name: str, lang: str) -> str:
    """A field's name in the page language."""
    pair = FIELD_LABELS.get(name)
    return (pair[0] if lang == "zh" else pair[1]) if pair else name


def language_of(request: Request) -> str:
    """The page language: cookie, then Accept-Language, then Chinese."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        code = part.split(";")[0].strip()
        if code.startswith("zh"):
            return "zh"
        if code.startswith("en"):
            return "en"
    return "zh"


def translator(lang: str):
    """t(key) for templates: the message in `lang` (the key itself when missing, so gaps show)."""
    def t(key: str) -> str:
        entry = MESSAGES.get(key) or {}
        return entry.get(lang) or key
    return t


def label(value: str | None, lang: str) -> str:
    """A status or priority in the page language."""
    if value is None:
        return "–"
    pair = STATUS_LABELS.get(value)
    return (pair[0] if lang == "zh" else pair[1]) if pair else value


def client_messages(lang: str) -> dict[str, str]:
    """The messages the page scripts need."""
    return {key: entry[lang] for key, entry in MESSAGES.items()}
