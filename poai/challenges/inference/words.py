"""The prompt word list of the inference challenge: 4096 common English words.

Derived once from the reference tokenizer's vocabulary (SmolLM2, Apache-2.0): its single-token words
(" word", 4-10 lower-case letters), in merge order (roughly frequency), kept when they are dictionary
words, when the reference model does not read them as the start of a longer word (next-token mass on a
no-space continuation <= 0.3), and when they are not function words or sensitive topics. Exactly 4096 =
2^12 distinct words, so each word drawn uniformly carries 12 bits. Changing this list changes every
prompt drawn from a seed: keep it fixed (a test pins its size and a checksum).
"""

WORDS: tuple[str, ...] = tuple(
    """
time know people like year help need work import develop used first child system between learn exam health
different high world form water sign make data result effect process found long return read lead fact test life
find understand right person follow important grow main level study great food start children good school class
show power research design small allow care example take support human treat individual state point number build
play body plan common want three cell pass elect social govern method known real public change better hand
material report learning interest present project list product feel light become energy open mean keep best
include direct various name history create perform home proper stand move look type large think function group
rest control provide particular several based area family potential object current program early together focus
access last turn risk success making print possible impact certain period land blood case specific local head
post value order occur come discuss text following addition cost times cause able problem view major course
model prevent invest press line tool special available consider species community future natural plant complex
experience language second country young works suggest exist step today technology strong little character range
treatment ways business book next percent flow four represent similar education short working essential space
sing amount free concept heart later author needs give paper mind improve field begin parent expect question
tradition knowledge appear story concern require difficult enough likely record days address protect left path
account employ higher growth century collect full increase connect fund sure science never physical side brain
term unique especially ground event maintain contain subject sound near personal modern affect population
effects reason quality nature practice loss associated pattern building detail size hold lower general million
explore meet student global word simple regard city living single wind source production respect thought deep
house interact team file activity analysis fail aspect engine live medical market management action idea
evidence quick reduce target necessary break society soft surface popular color ensure writing mass port climate
entire share rate approach response effective clear image whole national meaning pressure healthy context
ability increasing continue music money avoid related adult taking considered tell culture review article site
five training economic white reading check position assess skin clean computer sense react week love critical
remain weight condition measure offer content true accept matter black draw bring cultural feed instance regular
green conduct implement express identify previous attention structure produce region fish multiple select
provided diet face total unit designed company industry positive reflect half service soil recent claim farm
contact involved commit link original close sleep easy extra enjoy heat chemical spread travel built aware issue
historical longer greater stop written surround wild believe correct slow movement fire progress threat assert
leading media code user remember standard custom adapt broad safety stay normal daily write growing importance
policy basic answer safe complete sustain primary input late looking page talk exact achieve thinking shape
overall visit average damage shown camp decision force network series warm lack scientific electric town earth
theory attempt quickly cover request carbon cool pack output colon game document predict visual forest easily
patient base animal night host additional valuable variety generally search wood civil digital poor gain tree
difference software serious influence ancient crucial becomes active financial situation teaching added section
included table providing remains powerful prior produced speak friend security mention transport soon directly
spirit video determine establish belief waste foot mother diverse refer agree exercise trying install road final
exploring successful legal typically limited nation journey purpose highly favor sold third useful central raise
perfect reach device obtain learned goal labor memory property fair load transform demand length severe negative
choose month chapter respond fast rapid protection speed explain status novel solution fight mount symbol
capital supply contribute version command room lost habit wide dark bound beginning brought balance carry stage
trust season private doctor received literature discovered news graph acid limit continued protein birth date
solar discover location fear forward leaves center message benefit teach testing recommend trade teacher machine
depend therapy root resource construct efficient smaller challenge apply told copy initial essay deal receive
piece eating serve assign equipment degree hundred numerous hope display constant journal moment collection task
rare feature architect effort exactly expand exposure connection middle burn save affected identity planet
recently leave rule bacteria platform older weather guide beautiful reduced miss fresh scale background infect
fuel sugar born valid style relevant core cold alone summer rock member basis peace gender applied completely
equal decided element worth coast distance setting promote default wrong involve layer academic distinct teeth
north father detect fully rise anti running note figure currently economy math emotional watch instruct enter
moving profession giving worked wrote joint comfort lived evolution master woman coming reality picture choice
capacity king south adjust finding trend contract genetic index imagine gold faith topic assist weak famous
store illness female resistance actual commonly easier becoming strength former helping experiment presence
sample happen price track excess feeling formed vital starting winter vary urban reducing remove expression
fruit defined foreign counter solid label random attract direction advanced eventually letter mouth connected
ball advance board filled hair immune ready resulting awareness glass bond causing sort train conclusion
separate blue chance eight technique garden interpret pick vision staff expert depending manage medicine error
baby encourage belong mission billion native professor contrast frequently relatively income classes walk engage
column wonder majority truth discussion heavy felt reference tissue creation office transfer internal plastic
height option format river prefer turned mist muscle clinical classroom male industrial gene race conflict
colors generation iron diversity enhance dive release college commercial metal party vast meeting storage
clearly justice freedom tour film court huge nutrition speech insect practical milk career engaging strategy
assessment seek batter statement replace keeping creative cycle minor extremely interested primarily cook survey
bottom hear campaign organic notice widely efficiency carried prepared spot sand grant secret bone highest
spring wall drive string household extract favorite invent familiar thick chronic operation spiritual song spent
gather seven library meant signal saying fine volume oxygen consult covered failure properly external university
remind landscape item title lesson advice cast examine dogs seed plot generate carefully upper origin ocean
highlight smart mere round closely component screen array finally send wealth previously ecosystem describe
flood destroy confirm nuclear linked seeking accurate advantage leaving radio straight meat dangerous removed
surgery capable formation ongoing credit comment radiation enable pollution relative otherwise apart grade push
recognize square phase revolution rain determined secure argument faced atmosphere vitamin voice combined
definition sports technical appreciate earn reaction taught frequency annual worry official faster noted knew
spend cognitive talking authority hour ultimately helpful renew slightly please charge hearing align showing
grass lung ideal tiny existence stream excellent truly improving salt reduction smooth maximum tooth island
traffic yield exposed obvious brief kept phone bank electrical interview solve amazing deliver exchange raised
intended operating sufficient goods offering certainly drawing coal firm indicate motion extreme regional
selected liquid double flat closer youth resist ship regularly happy appoint edge returned handle thin discovery
bird hospital mainly hidden informed innovative medium investment procedure rapidly careful tried forced doll
storm diagnosis southern toxic bright supporting moist client fluid stone leadership prepare window leader
foundation consistent manner millions suitable intellect sector brother selection poet mode yellow morning
pretty domestic biological underlying skill decide vehicle join match northern formal settle drop instrument
collected wear guidance delve persist appearance virtual oral click snow poverty variable sudden extent remark
links driving fostering moral drinking west wait feedback emergency depth sensitive strengthen detailed entirely
filter minimum cutting listen fill define struggle sides recovery lots chain examining touch hero speaking
innovation typical shaping largely audience lose rural sell park grown chosen drink liver sequence ahead
restrict habitat torch accepted trial node police assistance latest prompt cooking opening opinion absorb
studied fiction knowing stem script budget crisis wave catch server divided indigenous reform adopt couple
transition relax entry afford measured survival session apparent naturally neighbor critic principle beauty
universe stock hunt brand walking reject resilience department nearby ethical conscious creativity visible
understood shift wire concerned curriculum prevention frame wildlife confidence portion massive inner framework
boost sick mobile wife substance engagement sweet cloud east desired narrow switch noise witness seeing
expensive floor reader decrease fold taste impossible electronic marked pure tested sentence slowly brown rail
philosophy foster closed facing western capture everyday horse revealed exciting agreement artificial stick crop
remote shop derived dental secondary fixed agreed pair monitor float mixed extended heritage chart standing
possibly usage arrange plate turns dynamics depict inspired museum director incredible sole repeated passion
evaluation analyze shell protocol beneficial writer pull literary arms stated unknown organized medication
resolution village marine accuracy thread employed meaningful confident score adopted dust deeply functional
childhood ethnic evaluate forget scene dynamic fell door listed rely wisdom extensive worse collective grew pump
decline supplement flight leaf insurance intake healing zero ratio camera chief immediate marriage coffee matrix
normally mountain empathy steel survive fighting twice density desire navigate tall missing moon latter broken
wish expressed breathing insight compare younger willing guess societal prove inject publish strict painting
update optimal commitment listening continuous housing debate axis agency shut vulnerable myth category succeed
greatly domain adventure originally fabric electron circuit dealing engaged verb turning difficulty breath
physics photograph artist thanks fellow bread mechanism meal holding accessible orient sight district battery
grid employment objective magnetic serving aircraft funds warming reliable waiting stability opposite bear drain
accident trained routine trip uncertain doubt delivery unexpected occasion chick sought flag affecting editor
logging consumer module attached false spending concerning split stake player initially encounter curiosity
stable heavily alter fossil comparison border corn teen butter widespread summary calcium purchase partner drawn
regardless stomach forth complexity remarkable profound fiber humanity unable dance inherent permanent launch
mood adequate clothing convey proceed expansion delay criteria happening swim operate trouble subsequent lens
decade angle concrete insert channel street craft refuge conference protecting disturb facilitate territory
percentage laboratory fashion realize mild zone reward introduce detection rice roof preserve intent reveal
flour theme proof jump sheet neck daughter alike bridge disrupt route prominent biggest shot graduate depart
passage warn curious emotion relation argue gradually excessive corner thesis constantly dream hydrogen crow
entertain dialogue hole equivalent estimate greenhouse feeding biology vote printing statistics musical
calculate honor correctly artistic moisture abstract nerve robust colonial rising treating married supposed
thousand intricate plenty ended division equally unusual relief dioxide combat branch pool phenomenon owner
outcome debt parallel mechanical assume overcome paint passing minimize repair fairly notable movie historic
award batch explicit finished frequent farming convert handling danger customer parser algorithm strongly
structural exception scan universal forming shed newly embed sizes sport bath nervous cleaning realm eastern
tank sessions voltage circle icon sharp observe smoke resident reaching bigger mining button molecular tack
equality poetry intense blind mice coastal psychology container empower regulation friendly watching shaped
formula empty fever linear carrying defense digest stroke agent sitting assigned photo rank poison permission
schedule blow abandon caught compassion judge mask literacy plus peak printed ranging width escape actively
robot strategic surprising glucose burning sunlight arise inspect renewable promise await narrative emphasis
tables marketing nose composed classic girl desert weakness kidney disaster mixture scientist mortality assets
ordinary precise render poem proven tube ring attach brush guard insulin profile panel strain proportion laid
wonderful cash proved declared measuring uniform wine extend targeted counsel heating senior dependent
perception plane satellite club scenario exhibit mold defend interface usual tension provider safely equation
county chest privacy removal quiet scope inhabit husband peer choosing inspire vocabulary celebrate outer tract
intensity facility audio marginal faculty ecological ritual protective finger driven warning feat coverage
minute vector absolute spectrum alive honest driver calculated honey giant strange dietary anywhere defect
breeding silver abnormal evil paragraph recover query rarely flower migration tick principal eliminate reverse
covering haven reasonable bias profit copper cream television roughly recall absence seemingly package compound
dominant committee fault commission hardware flavor physically embracing trace accurately orbit consume mutual
reflection radical balanced crew variation dish fourth logic embark confirmed edition harder lock designing
wheel breaking grain soul quantum vertical vibrant flexible duration opposed rational lake lighting parameter
brow authentic phrase fishing screening surprise superior acquired rose spark hazard calling researcher curve
pond mineral loop sensor classical exceed dose saved sculpt temple extension phenomena motivation globe appeal
democracy ease diameter isolated clothes cooling copyright password expanded surge enhanced neural temporary
chemistry versus manager raising disability breed losing blank ordered elsewhere elder wheat unity visiting
submit luck happiness drag hormone excited suddenly exhaust telling aged acute tropical countless saving acting
hunting seat manual union decay stopped chose integrity candidate combine preferred thermal nitrogen legacy
gently cluster streets magic falling removing tales tight spatial bacterial quantity definitely evening paying
duty wearing suit directed calm discipline pointed nutrient magical plain auto differ trigger ownership span
physician laser dictionary solely shock segment flying planting fatty logger gentle inclusive alert neutral
perfectly drought dramatic clock chair finish cattle royal incident analyses fought tough spoken tone nice
entering mock worst manuscript behavioral graphic moderate priority expanding notion hurt contents combining
stood export intention transmit settlement popularity customs evident gravity bees wise lecture welfare patience
accomplish initiative flash cotton grab quarter lasting steam meditation regulatory promising selling delicious
strike illustrate mouse aging attitude adverse polar judgment celebrated executive unlikely weigh acceptance
adaptation conversion directory prime assignment confusion everywhere lifetime pose membrane fatigue thrive
consent payment threshold critically applicable chicken sending essence logical assembly token compliance
precision converted medieval forecast dating courage buried deficiency armed legend chocolate cure register
harmony compost restore dairy settled powder hypothesis juice vegetation pressing beat opposition inequality
explaining isolation relate bless positively lymph boat displayed ethics reputation corporate excite estate
workplace precious license withdraw varied spoke spray utilize suggesting officer aside pill worker reflected
forever thorough portray clay classified deploy assumed spreading interior anger fitness outdoor currency
governing texture emerge herb economics accounting likelihood borrow shorter prosper kitchen ignore crown
partial overview genome distant holiday seriously grounds mature aggressive revenue pace repeat subtle bare
employee personnel victory utility brains thank indirect prey harvest striking scheme finance surrounded loyal
recording integral homework viral precisely struggling null draft kingdom newspaper disagree acceptable coat
criticism identical impair wooden enormous vegetable relevance reasoning ultimate separation surgical associate
thoroughly scales gate nest gathering begun sale sodium virtually tale fantastic layout modeling scar busy
productive fraction sister orange seam minority twist funded reserved trading genre prevalence barrier dress
gift permit embrace mystery template execution grace factory wash grasp proposal inclusion temp traveling
reflecting buck divide compelling cheap burden fisher readily harsh tape vessel governance adoption pushing
shore registered dense belonging tolerance impressive entity regulate province cheese digestive harness
excitement hybrid diagnostic annually rent optical accord sensory serial sampling outbreak freely severity
provision offset persistent cater prolong pursue particle labour resistant invention centered advisor crack
eager generating smell absolutely grammar respective regime reign colorful resolve spinal menu disk distract
transplant delicate searching skilled livestock dimension apparently boundary loud observing pilot delight
tongue welcome linguistic hygiene bite lean colony magnitude horizontal swimming plug attractive gear shelter
debris inch systematic tech beach synthetic juvenile cellular metabolism deer retain equity broke bottle
invasive throat engineer thyroid guarantee consuming rotation ending reef enrich rough specialist speaker
elderly attribute incidence tackle discomfort struck citizen punishment acquire velocity absorption totally wing
symptom inspiring bought arrival throw sleeping continent golden restricted desk loose sediment outline knee
dried till diving simulation mobility locally elevated colored abundant affordable setup loan genuine gray
empire ride irrigation nursing hack tourism cable intriguing descend arthritis abundance explicitly mistake
binary teens incredibly sheep emphasize cultivate binding retail erosion python filling stew seasonal pipe hide
diver assistant approval browser advocate alpha imagery realistic facial undergo emit comprehend activation beam
rainfall trail rigorous heal lunch organize cloth diagram abandoned imperial elementary vine arrive patent
shoulder stretch twelve shopping landing pride patch circular confused bind metabolic discharge rhythm afternoon
hung beta kindness hearts adjacent straw featured wake gains molecule inflation swelling collapse tendency sons
fifth calendar digit friendship instant completion fate bold weekly optional personally spine encompass campus
cope dinner kernel lemon header uncover noun broadcast convenient immense partly posted mirror earthquake
globally geometry officially distress systemic thirty recipe absorbed magazine shade sacrifice steady supportive
strive painted tower qualified seal footprint exhibition thickness chamber gaining slight humidity static
wondering monthly salmon organism timing font folk partially lift pleasure worn chat endless accompany doctrine
impression synthesis dentist entrance modify atom prevalent burned discourse sustained washing enzyme wage
incorrect interval tied diamond warrant printer limiting afraid basket executed cave mail rooted asset pitch
tribe pine enjoying evolve peaceful sail admin council mysterious soap picked occupation apple pink exit namely
allergic workshop prone indoor ingredient atomic vice operator dedication fulfill singing alien obviously yoga
beloved onset fertility wages potassium bike plasma dismiss worried crust shallow furniture integrate insist
immunity numerical joining extraction sour concert spelling wireless verse canal visually treaty contrary
alignment marker erect frozen verify torn reservoir stuck quote extinction abroad eaten genetics irregular fatal
railroad monument nineteenth smoothly creature compute emergence mile strand stunning consensus assessed poorly
algebra educated humor baking valley algae tactics enduring decent blend attain revealing tired expense
negatively vacuum efficacy disappear exert flooding beef casual bearing passive meta machinery prediction phases
voting admitted edit verbal dialect valve fertilizer horn enumerate shipping structured relaxation bowl
constitute coral feather supervisor rubber equitable fallen expedition lambda alphabet devoted angry necessity
traveled festival navigation episode founder shifting leak stiff ought caution practiced compact watched valued
confront counting meter viable similarly hazardous ruling symbolic needle retire drainage mitigate emission
capability beer pediatric slide verbose liberty winning interrupt expend genus breathe defeat floating shield
maximize locate puzzle stimulate permitted dominated educate gardening reinforce holistic hardly magnesium
mechanics checked lawn tutorial bulk united metrics diagnose dollar recur culinary metric flowing yeast
volunteer brave repeatedly rocket injection deadly parse weaken addict historian graphics tear terminal nick
lying wealthy generator preference garlic sunny upset intensive automatic folder occurrence disposal macro
disabled publicly aquatic geography assumption autonomy brilliant terrain marvel romantic alarm nurse vivid
signature hunger situated bases chip contradict coping refine loaded geographic zinc swallow aluminum exclusive
hill matching vocal conclude bell briefly regression tensor crossing bark empirical thumb admit prosperity
suspected validation tire pathway allergy unwanted behave powered clarity reminder shadow sorted football
disappoint indicator someday compromise chips enact comparable outdoors darkness delete socially optimize census
promotion galaxy crystal twentieth accused specify coin informal pipeline steep advocacy protest retention
terrible iconic fusion instructor mercury crowd methane enterprise advancing olive yard declined behalf
accordance citation cite compete attachment fungi pursuit pointing reserve rear placement membership epoch
severely niche inherit analytical belt therapist extending perceive antibiotic dirt keyboard translate lesser
bladder upload scattered aesthetic farmer rival drama execute talent sphere inventory neglect adaptive tribal
lever digestion smile bench rolling costly employer announce comic appetite altogether castle licensed tunnel
textbook lighter absent underwater separately gaming strip cardiac glasses substitute rescue insulation radius
desirable odds strictly conceptual demanding convict echo warmer telephone ceremony transcript temporal
convention freed surely laugh coupled outlined tomorrow slope mounted telescope forgotten timber astronaut drew
firmly governor posture volcanic induced chaos shortly jewel enthusiasm preschool impacted cache breakfast
extracted timely momentum pivotal fifty pepper median silent mutation thrilling stays larvae grey premature
inquiry buffer possession eligible hint manipulate riding morality omega cuisine chop polymer vapor elaborate
dispute melting legitimate unfair advised pollen pulse skull cavity bustling convinced blame offspring march
forcing relieve tremendous titled satisfied residence thrown passionate renowned appealing legally dear unclear
sauce fertile brick radar wool unfamiliar handy dignity flesh receptor abdominal invisible surviving revision
plaque enjoyable treasure purple notably theater silence salary banking melt ecology simpler trap oxide
poisoning decreasing flux unhealthy naval autonomous snake potent intact agenda openly gross certified rigid
mathematic refined explosion crash dump rating balancing triumph venture glue artery fake dancing panic scholar
fled founding paste margin virtue maternal greet poster breakdown oppression adversity prefix resort sore dwell
stocks forty gluten monetary dough interfere tender urgent trapped probe grave visualize plastics upcoming soup
regulated mythology bitter oven basin elevation skip transit failing snap damages lunar dependence soda confined
wolf praise voluntary loyalty discount allies sensation withdrawal mesh ruler glow indication caffeine altitude
gradient touching ambitious saturated stayed mindful friction headed wellness imprison numb mines peculiar glory
indices invite resolved triggered descent scholarly deepen warmth animation hoped republic stopping inspection
metaphor lining conform cement intestinal lawyer distribute submission carrier nucleus fairness alternate
fictional soldier allocation recruit soccer sink controller tapestry noble companion unfold heading worthy motif
impairment fleet variant triangle inevitable guilt crossed instinct designer gratitude hanging bore dozen truck
resilient inserted headache validate inadequate encryption lateral memorable partition hungry plural thriving
overnight compatible reproduce eternal paramount grounded wrap versatile coating blocked handled delta drying
afterwards uncommon validity birthday mosquito dividing sake toll correction clarify visibility restaurant
loving expose periodic adulthood mandatory extinct capitalism cruel stain cleaner purely combustion implant
surgeon loading alleviate throne statue microbial stamp append integer ozone autumn bats hash clever wanting
horizon spell exotic maturity drill occasional favorable grocery hierarchy cosmic trim railway randomly resting
gauge enforce burst aspiring proximity poultry reset assuming potato hotel tutor mankind spite charging reply
pronounced burial silk singular fancy sword portable admission stimuli tragedy ghost showcase switching
comprised quit tomb deployment discern advertise untreated linking prototype buttons trash livelihood processor
leather commerce silicon neat bloom superhero fired propose bureau remedy nutritious homeless drilling inability
listing cooler offensive modest retirement toilet elite nearest composite whale grief commander suppose formally
sixth learner opposing shelf piano fragile queen snack rust drum specially evenly cultivated satisfy charity
scratch pencil litter shame culturally suggestion scatter glance flowering ample marking overhead parental
peripheral toxicity lifelong infinite emperor watering fantasy instantly monarch semester residual advise
publisher rendering aggression microscope frost obligation penalty climbing analytics wilderness sticks
geometric tangible gradual fitting indoors rejection jewelry fool generic feasible subjected overlap watershed
packet myriad suppress abdomen guitar clinic pole judicial justify rabbit realizing deck mentally hire handful
envelop bodily lowering privilege aloud induce clip washed trucks thoughtful conception barely fiscal intersect
freezing weekend fungus cortex canon landed continuity adherence adolescent retired spider guest keen anatomy
attorney primitive manually medicinal fitted tightly elastic tragic suspended cake talented intimate stigma
pocket relaxed unlock selective authorized infrared liability flaw lady deny cycling municipal forum diesel
subjective sculpture baseball flee administer chromosome filament lightning climb ideology intestine theology
asleep pile upward bush axes mastery compress lion stimulus acidic gamma arrow resonate solidarity communal
parking scrap cursor deter commentary reliance tourist portrait comply competence substrate foliage nationwide
canvas mitigation laying adjustment respectful astronomy cervical civilian believing crises blocking dirty
prejudice divorce trunk grazing shower cargo deserve dynasty earning deficit nights tablet attraction bulb knock
parish rash palace premium formerly limb retreat awesome kick passenger imperative patron rewarding lucky
aesthetics preventive exploit tense balloon spotted coloring exclusion ministry asbestos convince slip aboard
scary defensive producer fright enroll reflective innocent blade knife sanitation fifteen racing sparked durable
converting pound underneath socket adhere gasoline backup swift dawn weed adequately padding hired redirect
reuse similarity flip urinary inferior violation boiling hobby merge refuse ancestral spill farther civic
deposit broadly sweat simplicity tenure deviation cognition impart righteous pilgrim trait attendance needing
rebellion cubic vascular geological decorative recess nonprofit trillion funny elephant nasal overseas grape
hosting disruption tricky tomato blending surf slice scanning sketch flora multiply dealt feminist foam declare
implicit petition resonance propaganda coach hollow easiest lifting rush wrapped aquarium thrust humble leverage
ramp crude brushing resemble recipient specimen fracture laughter syntax bass throwing contest deaf receiver
encrypt bucket testimony pleasant jazz memorial badly shortage paradigm bend prize backward muscular reactor
pear scarce tune planetary cylinder mimic corrosion focal boot irritation repetitive imply login acre odor donor
hostile affection rounded dragon archive coconut locked turtle ceiling intrinsic refugee casting visitor
limestone plague tasty downstream pulmonary wore clause decorated runoff serum flame shark actor repository
recreation vein touched subtract lamp biography seventh sooner occupy turbines vacation pulp envision highway
reasonably firing fungal accelerate longevity immigrant aviation needles earnings excel pave sealed enrolled
tide boil anchor courtesy mistaken surrender airport marry freeze antibody phosphorus hook finite spawn asteroid
defence inviting detector edible aerial exterior subset frontier critique sticky feast welding incoming schema
portfolio activism posterior handed athlete indirectly correlated faithful enjoyment punish revelation developer
interplay remainder respecting convincing spinning compressed invalid creator alliance endurance lovely
trajectory petroleum candy sickness proving happier incomplete succession woven variance impose decimal
finishing painter fluoride bronze dominance positioned gotten collision bunch calculator imbalance chord unrest
withstand conserve maritime threaten uncovered consulting merit elegant landmark colleague promptly arbitrary
grateful volcano immersive vinegar arose auditory butterfly symbolism opponent routinely provincial
""".split()
)
