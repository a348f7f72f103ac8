/**
 * Everything the command line says, in English and Korean. The language follows the terminal's
 * locale (LC_ALL, then LC_MESSAGES, then LANG, as POSIX orders them): `ko…` is Korean, anything
 * else English. The Korean table has the English one's type, so a missing text fails to compile.
 */
import { ERROR_TEXTS } from './errorCodes';

export type Language = 'en' | 'ko';

export function languageOf(env: NodeJS.ProcessEnv): Language {
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
  return /^ko\b|^ko_/i.test(locale) ? 'ko' : 'en';
}

const EXIT_CODES_EN = `Exit status:
  0    done (the video is saved, the job is cancelled, restarted or deleted, the list is printed)
  1    the job failed or was cancelled, or the server refused or could not be reached
  2    bad usage: unknown flags, missing or unusable files, --out not writable, a delete not confirmed
  130  interrupted (Ctrl-C): the job is left running on the server; re-attach with
       \`npx avatar-video watch <jobId>\``;

const EXIT_CODES_KO = `종료 코드:
  0    완료 (영상 저장, 작업 취소·재시작·삭제, 목록 출력)
  1    작업이 실패했거나 취소됨, 또는 서버가 거부했거나 연결할 수 없음
  2    잘못된 사용: 알 수 없는 옵션, 없거나 쓸 수 없는 파일, 쓸 수 없는 --out, 확인하지 않은 삭제
  130  중단됨(Ctrl-C): 작업은 서버에서 계속 진행됩니다. 다시 보려면
       \`npx avatar-video watch <jobId>\``;

const en = {
  usage: 'usage: npx avatar-video [generate] --image FILE --audio FILE [options]\n       npx avatar-video watch|download|cancel|retry <jobId> [options]\n       npx avatar-video delete <jobId> [--yes] [options]\n       npx avatar-video list [options]',
  help: `Avatar video jobs from the command line: a photo and a voice recording become a talking-avatar video.

Commands:
  generate          upload a photo and a recording, follow the job, save the video (the default)
  watch <jobId>     follow a job that is already running, until it ends
  download <jobId>  save a finished job's video
  list              your jobs, newest first
  cancel <jobId>    stop a running job
  retry <jobId>     start a failed or cancelled job again with the same photo and recording
  delete <jobId>    delete a job, its photo, recording and video for good (a running job is
                    cancelled first); asks first on a terminal

generate:
  --image FILE    the photo: JPEG, PNG, WebP or HEIC, up to 10 MB
  --audio FILE    the voice recording: WAV, MP3 or M4A, up to 30 MB
  --name NAME     the instructor's name (default: from the photo's file name)
  --bio TEXT      a short bio, up to 1000 characters
generate and download:
  --out PATH      where to save the video: a file, or a folder for <jobId>.mp4 (default ./<jobId>.mp4);
                  checked before anything is uploaded
  --force         replace an existing file at --out
list:
  --limit N       how many jobs (1-100, default 20)
delete:
  -y, --yes       delete without asking (required without a terminal, and with --json)
every command:
  --server URL    the service: --server, else AVATAR_API_URL, else http://localhost:8080
                  (host:port without a scheme means http://host:port)
  --token TOKEN   send "Authorization: Bearer TOKEN" (also read from AVATAR_TOKEN)
  --json          one JSON object per line on stdout (accepted, each job change, the result)
  -h, --help      this text

Ctrl-C while a job runs asks whether to cancel it (on a terminal); answering no keeps following,
a second Ctrl-C leaves the job running and exits 130. Without a terminal, Ctrl-C cancels the job
being generated; \`watch\` leaves it running.

${EXIT_CODES_EN}`,
  unknownCommand: (name: string) => `unknown command "${name}"`,
  missingJobId: (command: string) => `${command} needs a job id`,
  extraArgument: (arg: string) => `Unexpected argument '${arg}'`,
  missingFlag: (flag: string) => `missing ${flag}`,
  flagNotFor: (flag: string, command: string) => `${flag} is not an option of ${command}`,
  nameEmpty: '--name must not be empty',
  nameTooLong: (max: number) => `--name may have at most ${max} characters`,
  bioTooLong: (max: number) => `--bio may have at most ${max} characters`,
  badLimit: '--limit must be a whole number from 1 to 100',
  badServer: (value: string) => `the server is not an http:// or https:// URL: ${value}`,
  noSuchFile: (flag: string, file: string) => `${flag}: no such file: ${file}`,
  notAFile: (flag: string, file: string) => `${flag}: not a file: ${file}`,
  emptyFile: (flag: string, file: string) => `${flag}: the file is empty: ${file}`,
  fileTooLarge: (flag: string, file: string, size: string, limit: string) => `${flag}: ${file} is ${size}; the limit is ${limit}`,
  notAnImage: (file: string) => `--image: ${file} is not a JPEG, PNG, WebP or HEIC image (judged by its contents)`,
  notAudio: (file: string) => `--audio: ${file} is not a WAV, MP3 or M4A recording (judged by its contents)`,
  outNoFolder: (dir: string) => `--out: the folder ${dir} does not exist`,
  outNotWritable: (dir: string) => `--out: the folder ${dir} is not writable`,
  outExists: (file: string) => `--out: ${file} already exists; add --force to replace it`,
  uploading: (image: string, audio: string, server: string) => `Uploading ${image} and ${audio} to ${server}`,
  uploadBar: 'Uploading',
  downloadBar: 'Downloading',
  accepted: (jobId: string, name: string, url: string) => `Job ${jobId} accepted for "${name}"; watch it at ${url}`,
  watching: (jobId: string, url: string) => `Following job ${jobId} (${url})`,
  uploadRefused: (text: string) => `the server refused the upload: ${text}`,
  uploadFailed: (text: string) => `the upload failed: ${text}`,
  uploadStopped: 'upload stopped; no job was created',
  unreachable: (server: string, reason: string) => `cannot reach ${server} (${reason}); is the service running? (npm start)`,
  cannotFollow: (text: string) => `cannot follow the job: ${text}`,
  failedAfter: (took: string, reason: string) => `the job failed after ${took}: ${reason}`,
  noReason: 'no reason given',
  cancelledAfter: (took: string) => `the job was cancelled after ${took}`,
  completedIn: (took: string) => `Completed in ${took}`,
  saved: (size: string) => `Saved the video (${size})`,
  downloadFailed: (text: string) => `the video could not be downloaded: ${text}`,
  downloadStopped: (url: string) => `download stopped; the video stays at ${url}`,
  cancelRequested: 'cancel requested; the job stops at its next step',
  cancelRefused: (text: string) => `the server did not cancel: ${text}`,
  interruptedCancel: (text: string) => `interrupted: ${text}`,
  cancelPrompt: (jobId: string) => `Cancel the job ${jobId}? [y/N] `,
  yes: /^y(es)?$/i,
  stillFollowing: 'still following the job (Ctrl-C to ask again)',
  leftRunning: (jobId: string, url: string) => `left the job ${jobId} running; follow it at ${url} or with \`npx avatar-video watch ${jobId}\``,
  retryStarted: (from: string, jobId: string) => `Job ${from} started again as ${jobId}; follow it with \`npx avatar-video watch ${jobId}\``,
  retryRefused: (text: string) => `the server did not retry: ${text}`,
  deletePrompt: (jobId: string) => `Delete the job ${jobId}, its photo, recording and video for good? [y/N] `,
  deleteNeedsYes: 'no terminal to confirm on; add --yes to delete without asking',
  notDeleted: (jobId: string) => `not deleted; the job ${jobId} stays`,
  deleted: (jobId: string) => `Deleted the job ${jobId}, its photo, recording and video`,
  deleteRefused: (text: string) => `the server did not delete: ${text}`,
  listEmpty: 'No jobs yet.',
  listHeader: ['JOB ID', 'STATUS', 'PROGRESS', 'NAME', 'CREATED'],
  notCompleted: (jobId: string, status: string) => `job ${jobId} is ${status}; only a completed job has a video`,
  steps: {
    'avatar.create': 'Prepare the avatar',
    'video.create': 'Start the video',
    'video.poll': 'Render the video',
    'video.store': 'Save the video',
    done: 'Done',
  } as Record<string, string>,
  statuses: { queued: 'queued', processing: 'processing', completed: 'completed', failed: 'failed', cancelled: 'cancelled' } as Record<string, string>,
};

type Messages = typeof en;

const ko: Messages = {
  usage: '사용법: npx avatar-video [generate] --image 파일 --audio 파일 [옵션]\n        npx avatar-video watch|download|cancel|retry <jobId> [옵션]\n        npx avatar-video delete <jobId> [--yes] [옵션]\n        npx avatar-video list [옵션]',
  help: `명령줄에서 아바타 영상 만들기: 사진 한 장과 음성 녹음으로 말하는 아바타 영상을 만듭니다.

명령:
  generate          사진과 녹음을 올리고, 작업을 지켜보고, 영상을 저장합니다(기본)
  watch <jobId>     이미 진행 중인 작업을 끝날 때까지 지켜봅니다
  download <jobId>  끝난 작업의 영상을 저장합니다
  list              내 작업 목록(최신순)
  cancel <jobId>    진행 중인 작업을 멈춥니다
  retry <jobId>     실패했거나 취소된 작업을 같은 사진과 녹음으로 다시 시작합니다
  delete <jobId>    작업과 그 사진, 녹음, 영상을 영구히 삭제합니다(진행 중이면 먼저 취소);
                    터미널에서는 먼저 묻습니다

generate:
  --image 파일    사진: JPEG, PNG, WebP 또는 HEIC, 10 MB 이하
  --audio 파일    음성 녹음: WAV, MP3 또는 M4A, 30 MB 이하
  --name 이름     강사 이름(기본값: 사진 파일 이름)
  --bio 글        짧은 소개, 1000자 이하
generate와 download:
  --out 경로      영상을 저장할 곳: 파일, 또는 <jobId>.mp4를 둘 폴더(기본값 ./<jobId>.mp4);
                  업로드하기 전에 확인합니다
  --force         --out에 있는 파일을 덮어씁니다
list:
  --limit N       작업 개수(1-100, 기본값 20)
delete:
  -y, --yes       묻지 않고 삭제합니다(터미널이 아니거나 --json이면 꼭 필요)
모든 명령:
  --server URL    서비스 주소: --server, 없으면 AVATAR_API_URL, 없으면 http://localhost:8080
                  (스킴 없는 host:port는 http://host:port)
  --token 토큰    "Authorization: Bearer 토큰"을 보냅니다(AVATAR_TOKEN에서도 읽음)
  --json          stdout에 한 줄에 JSON 객체 하나(접수, 작업의 각 변화, 결과)
  -h, --help      이 도움말

작업이 진행 중일 때 Ctrl-C를 누르면 (터미널에서) 취소할지 묻습니다. 아니라고 답하면 계속 지켜보고,
Ctrl-C를 한 번 더 누르면 작업은 그대로 두고 130으로 끝납니다. 터미널이 아니면 generate는 작업을
취소하고, watch는 작업을 그대로 둡니다.

${EXIT_CODES_KO}`,
  unknownCommand: (name) => `알 수 없는 명령 "${name}"`,
  missingJobId: (command) => `${command}에는 작업 ID가 필요합니다`,
  extraArgument: (arg) => `예상하지 못한 인자 '${arg}'`,
  missingFlag: (flag) => `${flag}이(가) 없습니다`,
  flagNotFor: (flag, command) => `${flag}은(는) ${command}의 옵션이 아닙니다`,
  nameEmpty: '--name은 비어 있으면 안 됩니다',
  nameTooLong: (max) => `--name은 ${max}자 이하여야 합니다`,
  bioTooLong: (max) => `--bio는 ${max}자 이하여야 합니다`,
  badLimit: '--limit은 1에서 100 사이의 정수여야 합니다',
  badServer: (value) => `서버 주소가 http:// 또는 https:// URL이 아닙니다: ${value}`,
  noSuchFile: (flag, file) => `${flag}: 파일이 없습니다: ${file}`,
  notAFile: (flag, file) => `${flag}: 파일이 아닙니다: ${file}`,
  emptyFile: (flag, file) => `${flag}: 빈 파일입니다: ${file}`,
  fileTooLarge: (flag, file, size, limit) => `${flag}: ${file}의 크기는 ${size}이고 한도는 ${limit}입니다`,
  notAnImage: (file) => `--image: ${file}은(는) JPEG, PNG, WebP, HEIC 이미지가 아닙니다(내용으로 판단)`,
  notAudio: (file) => `--audio: ${file}은(는) WAV, MP3, M4A 녹음이 아닙니다(내용으로 판단)`,
  outNoFolder: (dir) => `--out: 폴더 ${dir}이(가) 없습니다`,
  outNotWritable: (dir) => `--out: 폴더 ${dir}에 쓸 수 없습니다`,
  outExists: (file) => `--out: ${file}이(가) 이미 있습니다. 덮어쓰려면 --force를 붙이세요`,
  uploading: (image, audio, server) => `${image}와(과) ${audio}을(를) ${server}에 올리는 중`,
  uploadBar: '업로드',
  downloadBar: '다운로드',
  accepted: (jobId, name, url) => `"${name}"의 작업 ${jobId}이(가) 접수되었습니다. ${url}에서 볼 수 있습니다`,
  watching: (jobId, url) => `작업 ${jobId}을(를) 지켜보는 중 (${url})`,
  uploadRefused: (text) => `서버가 업로드를 거부했습니다: ${text}`,
  uploadFailed: (text) => `업로드에 실패했습니다: ${text}`,
  uploadStopped: '업로드를 멈췄습니다. 작업은 만들어지지 않았습니다',
  unreachable: (server, reason) => `${server}에 연결할 수 없습니다(${reason}). 서비스가 실행 중인가요? (npm start)`,
  cannotFollow: (text) => `작업을 지켜볼 수 없습니다: ${text}`,
  failedAfter: (took, reason) => `작업이 ${took} 만에 실패했습니다: ${reason}`,
  noReason: '이유가 없습니다',
  cancelledAfter: (took) => `작업이 ${took} 만에 취소되었습니다`,
  completedIn: (took) => `${took} 만에 완료`,
  saved: (size) => `영상을 저장했습니다(${size})`,
  downloadFailed: (text) => `영상을 내려받을 수 없습니다: ${text}`,
  downloadStopped: (url) => `다운로드를 멈췄습니다. 영상은 ${url}에 그대로 있습니다`,
  cancelRequested: '취소를 요청했습니다. 작업은 다음 단계에서 멈춥니다',
  cancelRefused: (text) => `서버가 취소하지 않았습니다: ${text}`,
  interruptedCancel: (text) => `중단됨: ${text}`,
  cancelPrompt: (jobId) => `작업 ${jobId}을(를) 취소할까요? [y/N] `,
  yes: /^(y(es)?|예|네|ㅇ)$/i,
  stillFollowing: '계속 지켜봅니다(다시 물으려면 Ctrl-C)',
  leftRunning: (jobId, url) => `작업 ${jobId}은(는) 계속 진행됩니다. ${url}에서 보거나 \`npx avatar-video watch ${jobId}\`로 다시 보세요`,
  retryStarted: (from, jobId) => `작업 ${from}을(를) ${jobId}(으)로 다시 시작했습니다. \`npx avatar-video watch ${jobId}\`로 지켜보세요`,
  retryRefused: (text) => `서버가 다시 시작하지 않았습니다: ${text}`,
  deletePrompt: (jobId) => `작업 ${jobId}과(와) 그 사진, 녹음, 영상을 영구히 삭제할까요? [y/N] `,
  deleteNeedsYes: '확인할 터미널이 없습니다. 묻지 않고 삭제하려면 --yes를 붙이세요',
  notDeleted: (jobId) => `삭제하지 않았습니다. 작업 ${jobId}은(는) 그대로 있습니다`,
  deleted: (jobId) => `작업 ${jobId}과(와) 그 사진, 녹음, 영상을 삭제했습니다`,
  deleteRefused: (text) => `서버가 삭제하지 않았습니다: ${text}`,
  listEmpty: '아직 작업이 없습니다.',
  listHeader: ['작업 ID', '상태', '진행', '이름', '만든 때'],
  notCompleted: (jobId, status) => `작업 ${jobId}은(는) ${status} 상태입니다. 완료된 작업만 영상이 있습니다`,
  steps: {
    'avatar.create': '아바타 준비',
    'video.create': '영상 시작',
    'video.poll': '영상 렌더링',
    'video.store': '영상 저장',
    done: '완료',
  },
  statuses: { queued: '대기 중', processing: '진행 중', completed: '완료', failed: '실패', cancelled: '취소됨' },
};

const TABLES: Record<Language, Messages> = { en, ko };

export function messagesFor(language: Language): Messages {
  return TABLES[language];
}

/**
 * A server error in the reader's language, with its code: the server's own message in English
 * (it is the most specific), the translated text in Korean.
 */
export function serverErrorText(language: Language, code: string | undefined, serverMessage: string | undefined): string {
  const known = code ? ERROR_TEXTS[code] : undefined;
  const text = language === 'en' ? (serverMessage ?? known?.en) : (known?.ko ?? serverMessage);
  return `${text ?? code ?? '?'}${code ? ` (${code})` : ''}`;
}
